using LlmKit.Plugins.Ordinal.Heads;

namespace LlmKit.Plugins.Ordinal.Tests;

public class HeadTests
{
    [Fact]
    public void Coral_exceedance_is_sigmoid_of_shared_score_plus_bias()
    {
        var head = new CoralHead([0.5f, -1f], [1f, 0f, -2f]);
        float[] x = [2f, 0.5f]; // w·x = 1 − 0.5 = 0.5
        var prediction = head.Predict(x);

        // Tolerance 1e-6: float rounding of a sigmoid evaluated in double.
        Assert.Equal(Sigmoid(1.5), prediction.Exceedance[0], 1e-6);
        Assert.Equal(Sigmoid(0.5), prediction.Exceedance[1], 1e-6);
        Assert.Equal(Sigmoid(-1.5), prediction.Exceedance[2], 1e-6);
        Assert.Equal(2, prediction.Rank); // σ(1.5), σ(0.5) > 0.5 > σ(−1.5)
        Assert.Equal(Sigmoid(1.5) + Sigmoid(0.5) + Sigmoid(-1.5), prediction.ExpectedRank, 1e-6);
    }

    [Fact]
    public void Corn_exceedance_is_running_product_of_conditionals()
    {
        // Two inputs, three tasks: rows (1,0), (0,1), (1,1); zero biases.
        var head = new CornHead([1f, 0f, 0f, 1f, 1f, 1f], [0f, 0f, 0f]);
        float[] x = [1f, -1f]; // task scores 1, −1, 0
        var prediction = head.Predict(x);
        double p0 = Sigmoid(1), p1 = p0 * Sigmoid(-1), p2 = p1 * Sigmoid(0);
        Assert.Equal(p0, prediction.Exceedance[0], 1e-6);
        Assert.Equal(p1, prediction.Exceedance[1], 1e-6);
        Assert.Equal(p2, prediction.Exceedance[2], 1e-6);
        Assert.Equal(1, prediction.Rank);
    }

    [Theory]
    [InlineData(CumulativeLinkFunction.Logit)]
    [InlineData(CumulativeLinkFunction.Probit)]
    public void Cumulative_link_exceedance_is_F_of_score_minus_threshold(CumulativeLinkFunction link)
    {
        float[] thresholds = [-1f, 0.25f, 2f];
        var head = new CumulativeLinkHead([1f, 1f], thresholds, link);
        float[] x = [0.3f, 0.2f]; // η = 0.5
        var prediction = head.Predict(x);
        Func<double, double> cdf = link == CumulativeLinkFunction.Logit ? Sigmoid : NormalCdf;
        for (int k = 0; k < thresholds.Length; k++)
        {
            // 1e-6 covers float storage; the library's erfc is accurate to 1.2e-7 relative.
            Assert.Equal(cdf(0.5 - thresholds[k]), prediction.Exceedance[k], 1e-6);
        }

        // Thresholds survive the ordered (softplus-gap) parameterisation up to float rounding.
        var stored = head.GetThresholds();
        for (int k = 0; k < thresholds.Length; k++)
        {
            Assert.Equal(thresholds[k], stored[k], 1e-5);
        }
    }

    [Fact]
    public void Class_probabilities_are_differences_of_exceedance_and_sum_to_one()
    {
        var prediction = new CoralHead([1f], [2f, 0f, -1f]).Predict([0.3f]);
        var p = prediction.ClassProbabilities;
        var e = prediction.Exceedance;
        Assert.Equal(1 - e[0], p[0], 1e-6);
        Assert.Equal(e[0] - e[1], p[1], 1e-6);
        Assert.Equal(e[1] - e[2], p[2], 1e-6);
        Assert.Equal(e[2], p[3], 1e-6);
        Assert.Equal(1.0, p.Sum(), 1e-6); // four float terms: rounding stays far below 1e-6
    }

    [Fact]
    public void Invalid_parameters_are_rejected_clearly()
    {
        var unordered = Assert.Throws<ArgumentException>(() => new CoralHead([1f], [0f, 1f]));
        Assert.Contains("bias[1]", unordered.Message, StringComparison.Ordinal);

        var crossing = Assert.Throws<ArgumentException>(() => new CumulativeLinkHead([1f], [1f, 1f], CumulativeLinkFunction.Logit));
        Assert.Contains("threshold[1]", crossing.Message, StringComparison.Ordinal);

        var oneRank = Assert.Throws<ArgumentOutOfRangeException>(() => new CoralHead([1f], []));
        Assert.Equal("rankCount", oneRank.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CornHead([1f], []));

        var nan = Assert.Throws<ArgumentException>(() => new CoralHead([1f, float.NaN], [0f]));
        Assert.Contains("column 1", nan.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => new CornHead([1f, 2f, 3f], [0f, 0f])); // 3 weights do not split into 2 rows
    }

    [Fact]
    public void Inference_rejects_wrong_length_and_non_finite_features_naming_the_column()
    {
        var head = new CoralHead([1f, 2f, 3f], [0f]);
        var length = Assert.Throws<ArgumentException>(() => head.Predict([1f, 2f]));
        Assert.Contains("Expected 3 features but got 2", length.Message, StringComparison.Ordinal);

        var infinite = Assert.Throws<ArgumentException>(() => head.Predict([1f, float.PositiveInfinity, 0f]));
        Assert.Contains("column 1", infinite.Message, StringComparison.Ordinal);
        Assert.Equal("features", infinite.ParamName);
    }

    [Fact]
    public void Hidden_layer_feeds_relu_activations_to_the_head()
    {
        // Two units: relu(x0 − x1) and relu(x1 − x0); CORAL weights (1, 1) make the score |x0 − x1|.
        var hidden = new HiddenLayer(2, [1f, -1f, -1f, 1f], [0f, 0f]);
        var head = new CoralHead([1f, 1f], [0f], hidden);
        Assert.Equal(Sigmoid(3), head.Predict([1f, 4f]).Exceedance[0], 1e-6);
        Assert.Equal(Sigmoid(3), head.Predict([4f, 1f]).Exceedance[0], 1e-6);
        Assert.Equal(2, head.InputDimension);
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static double NormalCdf(double x)
    {
        // Independent reference: Simpson integration of the density from −10 (error far below 1e-9 here).
        const int steps = 20_000;
        double a = -10, h = (x - a) / steps, sum = 0;
        for (int i = 0; i <= steps; i++)
        {
            double t = a + i * h;
            double f = Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI);
            sum += f * (i == 0 || i == steps ? 1 : i % 2 == 1 ? 4 : 2);
        }

        return sum * h / 3;
    }
}

/// <summary>Any <see cref="IOrdinalHead"/> plugs into <see cref="OrdinalModel"/>; only built-in heads can be saved.</summary>
public class CustomHeadTests
{
    /// <summary>A fixed ordinal head: P(y &gt; k) = σ(x₀ − k), written independently of the library's heads.</summary>
    private sealed class ShiftedLogisticHead : IOrdinalHead
    {
        public int RankCount => 3;

        public int InputDimension => 1;

        public void PredictExceedance(ReadOnlySpan<float> features, Span<float> exceedance)
        {
            for (int k = 0; k < exceedance.Length; k++)
            {
                exceedance[k] = 1f / (1f + MathF.Exp(-(features[0] - k)));
            }
        }

        public OrdinalPrediction Predict(ReadOnlySpan<float> features)
        {
            Span<float> e = stackalloc float[2];
            PredictExceedance(features, e);
            return OrdinalPrediction.FromExceedance(e);
        }
    }

    [Fact]
    public void Custom_head_runs_behind_the_model_standardiser_and_cannot_be_saved()
    {
        // Standardiser maps raw 10 to (10 − 8) · 0.5 = 1, so P(y > 0) = σ(1) and P(y > 1) = σ(0) = 0.5 (not above 0.5).
        var model = new OrdinalModel(new ShiftedLogisticHead(), ["low", "mid", "high"], new Training.FeatureStandardizer([8f], [0.5f]));
        var prediction = model.Predict([10f]);
        Assert.Equal(1 / (1 + Math.Exp(-1)), prediction.Exceedance[0], 1e-6);
        Assert.Equal(0.5, prediction.Exceedance[1], 1e-6);
        Assert.Equal(1, prediction.Rank);

        var error = Assert.Throws<NotSupportedException>(() => Persistence.OrdinalModelSerializer.ToJson(model));
        Assert.Contains("ShiftedLogisticHead", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The projection that keeps trained CORAL biases ordered (pool adjacent violators).</summary>
public class IsotonicProjectionTests
{
    [Theory]
    [InlineData(new[] { 1f, 3f, 2f }, new[] { 2f, 2f, 2f })]     // 3 > 1 pools to 2, then 2 ≤ 2
    [InlineData(new[] { 3f, 1f, 2f }, new[] { 3f, 1.5f, 1.5f })] // only the last two violate
    [InlineData(new[] { 2f, 1f, 0f }, new[] { 2f, 1f, 0f })]     // already ordered: unchanged
    [InlineData(new[] { 0f, 1f, 2f, 3f }, new[] { 1.5f, 1.5f, 1.5f, 1.5f })]
    public void Projects_onto_non_increasing_sequences(float[] values, float[] expected)
    {
        Heads.IsotonicProjection.NonIncreasing(values);
        Assert.Equal(expected, values);
    }
}
