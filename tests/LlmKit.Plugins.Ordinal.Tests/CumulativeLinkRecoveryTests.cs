using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>The cumulative-link head must recover the parameters of the proportional-odds model that generated the data.</summary>
public class CumulativeLinkRecoveryTests
{
    private static readonly float[] TrueWeights = [1.0f, -0.5f, 0.25f];
    private static readonly float[] TrueThresholds = [-1.0f, 0.0f, 1.5f];

    [Theory]
    [InlineData(CumulativeLinkFunction.Logit)]
    [InlineData(CumulativeLinkFunction.Probit)]
    public void Recovers_weights_and_thresholds(CumulativeLinkFunction link)
    {
        var data = SyntheticData.ProportionalOdds(20_000, TrueWeights, TrueThresholds, link, seed: 7);
        var options = new OrdinalTrainerOptions
        {
            Head = OrdinalHeadKind.CumulativeLink,
            Link = link,
            Standardize = false, // compare in the generating coordinates
            L2 = 0f,             // maximum likelihood, no shrinkage
            ValidationFraction = 0f,
            Epochs = 12,
            BatchSize = 256,
            LearningRate = 0.01f,
            Seed = 3,
        };

        var head = Assert.IsType<CumulativeLinkHead>(new OrdinalTrainer(options).Train(data).Model.Head);

        // Tolerance 0.08: with n = 20,000 the maximum-likelihood standard errors are about 0.015–0.03 (logit)
        // and 0.01–0.02 (probit), and Adam at a fixed step of 0.01 jitters by roughly that step, so 0.08 is
        // 3–5 standard errors — loose enough to be stable across seeds, tight enough to catch a sign or scale bug.
        const float tolerance = 0.08f;
        for (int c = 0; c < TrueWeights.Length; c++)
        {
            Assert.InRange(head.Weights[c], TrueWeights[c] - tolerance, TrueWeights[c] + tolerance);
        }

        var thresholds = head.GetThresholds();
        for (int k = 0; k < TrueThresholds.Length; k++)
        {
            Assert.InRange(thresholds[k], TrueThresholds[k] - tolerance, TrueThresholds[k] + tolerance);
        }
    }
}
