// Types of bin/freshness.js for the TypeScript that imports it (bench/startup.ts).
export declare const ROOT: string;
export declare const DIST: string;
export declare const BUILD_STAMP: string;
export declare const SOURCE_DIRS: string[];
export declare function sourceFiles(): string[];
export declare function distState(): 'fresh' | 'missing' | 'stale';
