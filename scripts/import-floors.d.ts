import type { ESLint } from 'eslint';

export const FLOORS: readonly (readonly string[])[];
export const UPWARD_EXCEPTIONS: ReadonlyMap<string, string>;
export function floorOfFolder(folder: string): number | undefined;
export function folderOf(src: string, file: string): string | undefined;
export function floorViolation(root: string, file: string, target: string): string | undefined;
export const importFloorsPlugin: ESLint.Plugin;
