// The centred card the signed-out pages share.
import type { ReactNode } from 'react';

export function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth-page" id="main">
      <div className="auth-card">
        <p className="auth-brand" aria-hidden="true">
          LIMEN
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
