using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>Seeded draws from a known latent-variable (proportional-odds) model: y = #{k : w·x + ε &gt; θ_k}.</summary>
internal static class SyntheticData
{
    public static OrdinalDataset ProportionalOdds(
        int rows, float[] weights, float[] thresholds, CumulativeLinkFunction link, int seed)
    {
        var random = new Random(seed);
        int d = weights.Length;
        var features = new float[rows * d];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            double eta = 0;
            for (int c = 0; c < d; c++)
            {
                float x = (float)StandardNormal(random);
                features[r * d + c] = x;
                eta += weights[c] * x;
            }

            // Noise with CDF F makes P(y > k) = P(η + ε > θ_k) = F(η − θ_k): the model the head fits.
            double noise = link == CumulativeLinkFunction.Probit ? StandardNormal(random) : Logistic(random);
            double latent = eta + noise;
            int y = 0;
            while (y < thresholds.Length && latent > thresholds[y])
            {
                y++;
            }

            labels[r] = y;
        }

        return new OrdinalDataset(features, d, labels, OrdinalDataset.DefaultLabelNames(thresholds.Length + 1));
    }

    public static double StandardNormal(Random random)
    {
        // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static double Logistic(Random random)
    {
        double u = random.NextDouble();
        u = Math.Clamp(u, 1e-12, 1 - 1e-12);
        return Math.Log(u / (1.0 - u));
    }
}
