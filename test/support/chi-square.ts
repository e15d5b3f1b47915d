// Upper-tail standard normal quantile for p = 1e-6: with a few dozen checks per
// run, a correct generator fails by chance about once in ten thousand runs.
const Z = 4.753424308822899;

/** Wilson–Hilferty approximation of the chi-square quantile with `df` degrees of freedom. */
export function chiSquareThreshold(df: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + Z * Math.sqrt(a)) ** 3;
}
