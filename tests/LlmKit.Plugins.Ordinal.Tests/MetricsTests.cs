using LlmKit.Plugins.Ordinal.Metrics;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>Every metric against values worked out by hand for one small example (K = 3, six rows).</summary>
public class MetricsTests
{
    // Rows:     0  1  2  3  4  5
    // actual:   0  0  1  1  2  2
    // predicted 0  1  1  2  0  2
    // |error|:  0  1  0  1  2  0   -> sum 4, squares sum 1+1+4 = 6, exact 3, within one 5
    private static readonly int[] Actual = [0, 0, 1, 1, 2, 2];
    private static readonly int[] Predicted = [0, 1, 1, 2, 0, 2];

    // Exact rational values, so only floating-point rounding separates them from the computation.
    private const double Tolerance = 1e-12;

    [Fact]
    public void MeanAbsoluteError_is_mean_of_absolute_rank_errors() =>
        Assert.Equal(4.0 / 6.0, OrdinalMetrics.MeanAbsoluteError(Actual, Predicted), Tolerance);

    [Fact]
    public void RootMeanSquaredError_is_root_of_mean_squared_rank_errors() =>
        Assert.Equal(Math.Sqrt(6.0 / 6.0), OrdinalMetrics.RootMeanSquaredError(Actual, Predicted), Tolerance);

    [Fact]
    public void Accuracy_counts_exact_hits() =>
        Assert.Equal(3.0 / 6.0, OrdinalMetrics.Accuracy(Actual, Predicted), Tolerance);

    [Fact]
    public void OffByOneAccuracy_counts_errors_of_at_most_one() =>
        Assert.Equal(5.0 / 6.0, OrdinalMetrics.OffByOneAccuracy(Actual, Predicted), Tolerance);

    [Fact]
    public void ConfusionMatrix_counts_true_by_predicted()
    {
        var matrix = OrdinalMetrics.ConfusionMatrix(Actual, Predicted, 3);
        int[,] expected =
        {
            { 1, 1, 0 },
            { 0, 1, 1 },
            { 1, 0, 1 },
        };
        Assert.Equal(expected, matrix);
    }

    [Fact]
    public void QuadraticWeightedKappa_matches_hand_computation()
    {
        // Weights (i−j)²/(K−1)² = (i−j)²/4. Observed O is the confusion matrix above:
        //   Σ w·O = O[0,1]·1/4 + O[1,2]·1/4 + O[2,0]·4/4 = 0.25 + 0.25 + 1 = 1.5
        // Row totals (actual) = [2, 2, 2], column totals (predicted) = [2, 2, 2], n = 6, so E[i,j] = 2·2/6 = 2/3 everywhere:
        //   Σ w·E = (2/3) · Σ_ij (i−j)²/4 = (2/3) · (0+1+4 + 1+0+1 + 4+1+0)/4 = (2/3) · 3 = 2
        // κ = 1 − 1.5 / 2 = 0.25
        Assert.Equal(0.25, OrdinalMetrics.QuadraticWeightedKappa(Actual, Predicted, 3), Tolerance);
    }

    [Fact]
    public void QuadraticWeightedKappa_is_one_for_perfect_and_negative_for_reversed_predictions()
    {
        int[] ranks = [0, 1, 2, 3];
        int[] reversed = [3, 2, 1, 0];
        Assert.Equal(1.0, OrdinalMetrics.QuadraticWeightedKappa(ranks, ranks, 4), Tolerance);

        // Reversed: Σ w·O = (9+1+1+9)/9 = 20/9; marginals all 1, E = 1/4 each, Σ w·E = (1/4)·Σ(i−j)²/9 = (1/4)·40/9 = 10/9.
        // κ = 1 − (20/9)/(10/9) = −1.
        Assert.Equal(-1.0, OrdinalMetrics.QuadraticWeightedKappa(ranks, reversed, 4), Tolerance);
    }

    [Fact]
    public void QuadraticWeightedKappa_is_NaN_when_undefined()
    {
        int[] constant = [1, 1, 1];
        Assert.True(double.IsNaN(OrdinalMetrics.QuadraticWeightedKappa(constant, constant, 3)));
    }

    [Fact]
    public void Evaluate_bundles_the_same_values()
    {
        var evaluation = OrdinalMetrics.Evaluate(Actual, Predicted, 3);
        Assert.Equal(4.0 / 6.0, evaluation.MeanAbsoluteError, Tolerance);
        Assert.Equal(1.0, evaluation.RootMeanSquaredError, Tolerance);
        Assert.Equal(0.5, evaluation.Accuracy, Tolerance);
        Assert.Equal(5.0 / 6.0, evaluation.OffByOneAccuracy, Tolerance);
        Assert.Equal(0.25, evaluation.QuadraticWeightedKappa, Tolerance);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        var mismatch = Assert.Throws<ArgumentException>(() => OrdinalMetrics.MeanAbsoluteError([0, 1], [0]));
        Assert.Equal("predicted", mismatch.ParamName);
        Assert.Throws<ArgumentException>(() => OrdinalMetrics.Accuracy([], []));
        var outOfRange = Assert.Throws<ArgumentException>(() => OrdinalMetrics.ConfusionMatrix([0, 3], [0, 1], 3));
        Assert.Contains("row 1", outOfRange.Message, StringComparison.Ordinal);
    }
}
