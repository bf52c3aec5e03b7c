import { describe, expect, it } from 'vitest';
import { imageVersion } from './image-version.js';

describe('imageVersion', () => {
  it.each<[string, string | undefined]>([
    ['ghcr.io/isthmus-dev/isthmus:0.1.0', '0.1.0'],
    ['registry.internal:5000/platform/isthmus:v0.2.0-rc.1', 'v0.2.0-rc.1'],
    ['isthmus:0.3.1+build.7', '0.3.1'],
    ['ghcr.io/isthmus-dev/isthmus:0.1.0@sha256:' + 'a'.repeat(64), '0.1.0'],
    ['ghcr.io/isthmus-dev/isthmus@sha256:' + 'a'.repeat(64), undefined],
    ['registry.internal:5000/isthmus', undefined],
    ['isthmus:latest', undefined],
    ['isthmus:dev', undefined],
    ['isthmus', undefined],
  ])('%s → %s', (image, version) => {
    expect(imageVersion(image)).toBe(version);
  });
});
