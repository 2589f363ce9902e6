/** The onnxruntime execution providers the library uses when a call names none: the CLI's. */
export async function defaultProviders(): Promise<string[]> {
  const { parseProviders, PROVIDERS_ENV } = await import('../model/onnx/runtime.js');
  return parseProviders(process.env[PROVIDERS_ENV]);
}
