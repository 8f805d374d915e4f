export { registerSshKeyRoutes, MAX_SSH_KEYS_PER_USER } from './sshkeys.routes.js';
export { parseSshPublicKey, SSH_KEY_TYPES, type ParsedSshKey } from './ssh-key-format.js';
export { listSshKeys, type SshKeyRecord } from './sshkeys.repo.js';
