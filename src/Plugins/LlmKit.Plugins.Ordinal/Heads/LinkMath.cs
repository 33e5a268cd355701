namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>Scalar link functions in double precision (the per-example work is K−1 of these, so precision is cheap).</summary>
internal static class LinkMath
{
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    public static double Sigmoid(double x) => x >= 0 ? 1.0 / (1.0 + Math.Exp(-x)) : Math.Exp(x) / (1.0 + Math.Exp(x));

    /// <summary>log(1 + e^x) without overflow.</summary>
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1.0 + Math.Exp(-x)) : Math.Log(1.0 + Math.Exp(x));

    /// <summary>Inverse of <see cref="Softplus"/> for y &gt; 0: log(e^y − 1).</summary>
    public static double InverseSoftplus(double y) => y > 30 ? y : Math.Log(Math.Exp(y) - 1.0);

    public static double Logit(double p) => Math.Log(p / (1.0 - p));

    /// <summary>Binary cross-entropy of a logit against a 0/1 target: softplus(z) − t·z.</summary>
    public static double BinaryCrossEntropy(double logit, bool target) => Softplus(logit) - (target ? logit : 0.0);

    public static double NormalPdf(double x) => InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    /// <summary>Φ(x), the standard normal CDF.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x * InvSqrt2);

    /// <summary>1 − Φ(x), accurate in the upper tail.</summary>
    public static double NormalUpperTail(double x) => 0.5 * Erfc(x * InvSqrt2);

    /// <summary>Φ⁻¹(p) by bisection-refined Newton steps; only used to initialise thresholds.</summary>
    public static double NormalQuantile(double p)
    {
        double x = 0;
        for (int i = 0; i < 60; i++)
        {
            double step = (NormalCdf(x) - p) / Math.Max(NormalPdf(x), 1e-300);
            x -= Math.Clamp(step, -1.0, 1.0);
            if (Math.Abs(step) < 1e-12)
            {
                break;
            }
        }

        return x;
    }

    /// <summary>
    /// Complementary error function, relative error below 1.2e-7 everywhere (the Chebyshev-fitted
    /// exponential form from Numerical Recipes, 2nd ed., §6.2); .NET has no Math.Erfc.
    /// </summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277))))))));
        double ans = t * Math.Exp(poly);
        return x >= 0 ? ans : 2.0 - ans;
    }
}
