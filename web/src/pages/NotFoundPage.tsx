import { Link } from 'react-router-dom';

export function NotFoundPage() {
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>There is nothing at this address. <Link to="/">Go to the dashboard</Link>.</p>
    </section>
  );
}
