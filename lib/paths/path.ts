/**
 * What every automatic path implements (the HTTP path, the exec path):
 * register() turns each on at start and off at shutdown, in one loop.
 * Enabling twice, or disabling a path that is off, does nothing.
 */
export interface AutomaticPath {
  enable(): void;
  disable(): void;
}
