// The three states every list and page has besides "here is your data".
import type { ReactNode } from 'react';
import { describeError } from '../api/errors';

export function LoadingState({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>{describeError(error)}</p>
      {onRetry && (
        <button type="button" className="btn" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children}
    </div>
  );
}

/** Inline error under a form or button; renders nothing when there is no error. */
export function InlineError({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="inline-error" role="alert">
      {describeError(error)}
    </p>
  );
}

interface AsyncViewProps<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  isEmpty?: (d: T) => boolean;
  empty?: ReactNode;
  children: (d: T) => ReactNode;
}

/** Loading until the first answer; after that keep showing data while a reload runs. */
export function AsyncView<T>({ data, error, loading, reload, isEmpty, empty, children }: AsyncViewProps<T>) {
  if (data === undefined) {
    if (error !== undefined) return <ErrorState error={error} onRetry={reload} />;
    if (loading) return <LoadingState />;
    return null;
  }
  return (
    <>
      {error !== undefined && <ErrorState error={error} onRetry={reload} />}
      {isEmpty?.(data) ? empty : children(data)}
    </>
  );
}
