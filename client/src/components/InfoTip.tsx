// A small "i" badge whose one-sentence explanation shows on hover or keyboard focus.
export function InfoTip({ text }: { text: string }) {
  return (
    <span className="infotip" tabIndex={0} aria-label={text} data-tip={text}>
      i
    </span>
  );
}
