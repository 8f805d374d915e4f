// Errors a restore (or the drill) reports to the operator as a refusal rather than a crash.
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}
