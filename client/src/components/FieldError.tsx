// The server's (or the editor's) message for one form field, shown right under that field.
export function FieldError({ field, message }: { field: string; message: string | undefined | null }) {
  if (!message) return null;
  return (
    <p className="field-error" role="alert" data-testid={`error-${field}`}>
      {message}
    </p>
  );
}
