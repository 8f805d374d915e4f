import { Type } from 'typebox';
import { PASSWORD_MAX } from './password-policy.js';

export const Credentials = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 }),
  },
  { additionalProperties: false },
);

export const UserSummary = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
});

export const UserStatus = Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('rejected'), Type.Literal('disabled')]);

export const Me = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  status: UserStatus,
  created_at: Type.String({ format: 'date-time' }),
});

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  csrf_token: Type.String(),
  user: UserSummary,
});

export const RegisterResponse = Type.Object({
  user: Type.Object({ id: Type.String(), username: Type.String(), role: Type.String(), status: UserStatus }),
  message: Type.String(),
});
