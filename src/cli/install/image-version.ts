/**
 * The version the install's pods are labelled with (`app.kubernetes.io/version`), read from the
 * image they run: its tag, when the tag is a version (`0.1.0`, `v0.2.0-rc.1`). The CLI's own
 * version would be wrong for an image pinned with `--image` (the pods run what the tag says, not
 * what the CLI is); an image by digest alone, or a tag such as `latest`, says no version, and the
 * label is left off (`isthmus version` shows `unknown`). Pure.
 */
const VERSION_TAG = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]*)?$/;

export function imageVersion(image: string): string | undefined {
  const ref = image.split('@')[0]!;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  // A colon before the last slash is a registry's port (registry:5000/isthmus), not a tag.
  const tag = colon > lastSlash ? ref.slice(colon + 1) : undefined;
  // A label value: at most 63 characters, no '+' (build metadata is dropped, as Helm charts do).
  const version = tag?.replace(/\+.*$/, '');
  return version !== undefined && VERSION_TAG.test(version) && version.length <= 63 ? version : undefined;
}
