// A short, coarse description of a device from its user agent ("Firefox on Windows"): what the
// account page shows for a session or a security event. The user agent itself is never shown
// or kept for this.

const BROWSERS: [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/OPR\//, 'Opera'],
  [/Firefox\//, 'Firefox'],
  [/Chrom(e|ium)\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/^curl\//, 'curl'],
];

const SYSTEMS: [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

export interface DeviceHint {
  browser: string | undefined;
  system: string | undefined;
}

/** The browser and operating system named by a user agent, when recognised. */
export function deviceOf(userAgent: string | null | undefined): DeviceHint {
  const ua = userAgent ?? '';
  return {
    browser: BROWSERS.find(([re]) => re.test(ua))?.[1],
    system: SYSTEMS.find(([re]) => re.test(ua))?.[1],
  };
}
