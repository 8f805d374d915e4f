// Who is calling: attached to the request by the auth hook (modules/auth) and read everywhere
// authorization is decided. Declared in platform so every module can rely on its shape.
export interface Principal {
  id: string;
  username: string;
  role: 'user' | 'admin';
  status: 'pending' | 'active' | 'rejected' | 'disabled';
  sessionFamily: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const isAdmin = (p: Principal | undefined): boolean => p?.role === 'admin';
