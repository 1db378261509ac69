// Web app entry: one QueryClient, the URL-hash view sync, and the App.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClientProvider } from '@tanstack/react-query';
import { queryClient } from './data/api';
import { startHashSync } from './state/hashRoute';
import { startTabSync } from './data/tabSync';
import { App } from './App';
import './styles.css';

startHashSync();
startTabSync();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
