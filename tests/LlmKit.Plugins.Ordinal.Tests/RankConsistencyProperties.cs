using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>
/// CORAL and CORN (and the cumulative-link head) must be rank-consistent — P(y &gt; k) non-increasing in k — for every input, both for heads the
/// trainer produced (linear and with a hidden layer) and for heads built from arbitrary valid parameters.
/// </summary>
public class RankConsistencyProperties
{
    private const int Inputs = 5;
    private const int Ranks = 6;

    // Trained once per test class run: small synthetic problem, a few epochs (well under a second each).
    private static readonly Lazy<IOrdinalHead[]> TrainedHeads = new(() =>
    {
        var data = SyntheticData.ProportionalOdds(600, [0.8f, -0.6f, 0.3f, 0f, 1.1f], [-1.5f, -0.5f, 0.2f, 0.9f, 1.8f], CumulativeLinkFunction.Logit, seed: 5);
        var heads = new List<IOrdinalHead>();
        foreach (var kind in new[] { OrdinalHeadKind.Coral, OrdinalHeadKind.Corn, OrdinalHeadKind.CumulativeLink })
        {
            foreach (int hidden in new[] { 0, 8 })
            {
                var options = new OrdinalTrainerOptions { Head = kind, HiddenUnits = hidden, Epochs = 15, Seed = 2, Standardize = false };
                heads.Add(new OrdinalTrainer(options).Train(data).Model.Head);
            }
        }

        return [.. heads];
    });

    private static Arbitrary<float[]> Features() =>
        Gen.ArrayOf(Gen.Choose(-1_000_000, 1_000_000).Select(i => i / 1000f), Inputs).ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Trained_CORAL_CORN_and_cumulative_link_heads_are_rank_consistent_on_every_input() =>
        Prop.ForAll(Features(), features =>
        {
            foreach (var head in TrainedHeads.Value)
            {
                if (!IsNonIncreasing(head, features))
                {
                    return false;
                }
            }

            return true;
        });

    [Property(MaxTest = 300)]
    public Property Any_valid_CORAL_head_is_rank_consistent()
    {
        var gen =
            from weights in Gen.ArrayOf(Gen.Choose(-5000, 5000).Select(i => i / 1000f), Inputs)
            from biases in Gen.ArrayOf(Gen.Choose(-8000, 8000).Select(i => i / 1000f), Ranks - 1)
            from features in Features().Generator
            select (weights, biases, features);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var sorted = t.biases.OrderByDescending(b => b).ToArray(); // CORAL requires b_0 ≥ b_1 ≥ …
            return IsNonIncreasing(new CoralHead(t.weights, sorted), t.features);
        });
    }

    [Property(MaxTest = 300)]
    public Property Any_CORN_head_is_rank_consistent()
    {
        var gen =
            from weights in Gen.ArrayOf(Gen.Choose(-5000, 5000).Select(i => i / 1000f), (Ranks - 1) * Inputs)
            from biases in Gen.ArrayOf(Gen.Choose(-8000, 8000).Select(i => i / 1000f), Ranks - 1)
            from features in Features().Generator
            select (weights, biases, features);
        return Prop.ForAll(gen.ToArbitrary(), t => IsNonIncreasing(new CornHead(t.weights, t.biases), t.features));
    }

    private static bool IsNonIncreasing(IOrdinalHead head, float[] features)
    {
        Span<float> exceedance = stackalloc float[head.RankCount - 1];
        head.PredictExceedance(features, exceedance);
        for (int k = 1; k < exceedance.Length; k++)
        {
            if (exceedance[k] > exceedance[k - 1])
            {
                return false;
            }
        }

        return true;
    }
}
