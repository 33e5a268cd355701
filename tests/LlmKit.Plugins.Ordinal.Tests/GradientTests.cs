using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>Analytic gradients of every head (with and without a hidden layer) against central finite differences.</summary>
public class GradientTests
{
    public static TheoryData<OrdinalHeadKind, CumulativeLinkFunction, int, bool> Cases => new()
    {
        { OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 0, false },
        { OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 0, true },
        { OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 6, true },
        { OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, 0, false },
        { OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, 0, true },
        { OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, 6, false },
        { OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Logit, 0, false },
        { OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Probit, 0, false },
        { OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Probit, 6, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Analytic_gradient_matches_finite_differences(OrdinalHeadKind kind, CumulativeLinkFunction link, int hiddenUnits, bool thresholdWeighted)
    {
        const int inputs = 4;
        const int ranks = 5;
        var random = new Random(11);
        var options = new OrdinalTrainerOptions { Head = kind, Link = link, HiddenUnits = hiddenUnits };
        var head = OrdinalTrainer.CreateHead(ranks, inputs, options, random);
        Fill(head.ScoreWeights, random, 0.8);
        // Ordered parameters keep CORAL inside its constraint; any values are valid for the others.
        float[] thresholds = kind == OrdinalHeadKind.Coral ? [1.2f, 0.4f, -0.3f, -1.1f] : [-0.9f, 0.2f, -0.4f, 0.7f];
        thresholds.CopyTo(head.ThresholdParameters, 0);

        float[] taskWeights = thresholdWeighted ? [0.5f, 2f, 1f, 1.5f] : [];
        var rows = new float[6][];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = new float[inputs];
            Fill(rows[i], random, 1.5);
        }

        int[] labels = [0, 1, 2, 3, 4, 2];
        float[] exampleWeights = [1f, 0.7f, 1.3f, 1f, 2f, 0.5f];

        var gradient = new HeadGradient(head);
        gradient.Clear();
        for (int i = 0; i < rows.Length; i++)
        {
            gradient.Accumulate(rows[i], labels[i], exampleWeights[i], taskWeights);
        }

        double TotalLoss()
        {
            var probe = new HeadGradient(head);
            double sum = 0;
            for (int i = 0; i < rows.Length; i++)
            {
                sum += probe.Loss(rows[i], labels[i], exampleWeights[i], taskWeights);
            }

            return sum;
        }

        Check(head.ScoreWeights, gradient.ScoreWeights, TotalLoss, "score weights");
        Check(head.ThresholdParameters, gradient.Thresholds, TotalLoss, "thresholds");
        if (head.Hidden is { } hidden)
        {
            Check(hidden.WeightArray, gradient.HiddenWeights, TotalLoss, "hidden weights");
            Check(hidden.BiasArray, gradient.HiddenBiases, TotalLoss, "hidden biases");
        }
    }

    private static void Check(float[] parameters, float[] analytic, Func<double> loss, string what)
    {
        // Central differences with step 1e-2 on float parameters: truncation error is O(h²) ≈ 1e-4 for these smooth
        // losses, float rounding of the scores contributes ≈ 1e-7/h ≈ 1e-5, so 2e-3 + 1% relative leaves a wide
        // margin while a wrong sign, factor or missing term is off by far more.
        const float step = 1e-2f;
        for (int i = 0; i < parameters.Length; i++)
        {
            float original = parameters[i];
            parameters[i] = original + step;
            double plus = loss();
            parameters[i] = original - step;
            double minus = loss();
            parameters[i] = original;
            double numeric = (plus - minus) / (2 * step);
            double allowed = 2e-3 + 1e-2 * Math.Abs(numeric);
            Assert.True(
                Math.Abs(numeric - analytic[i]) <= allowed,
                $"{what}[{i}]: analytic {analytic[i]:G6} vs numeric {numeric:G6}");
        }
    }

    private static void Fill(Span<float> values, Random random, double scale)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        }
    }
}
