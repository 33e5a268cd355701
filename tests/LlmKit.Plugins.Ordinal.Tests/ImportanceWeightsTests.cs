using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Tests;

public class ImportanceWeightsTests
{
    [Fact]
    public void Threshold_weights_average_the_two_neighbouring_classes()
    {
        // Class weights [4, 1, 1, 2] -> boundaries (4+1)/2, (1+1)/2, (1+2)/2.
        var thresholds = ImportanceWeights.ThresholdWeightsFromClassWeights([4f, 1f, 1f, 2f]);
        Assert.Equal([2.5f, 1f, 1.5f], thresholds);
    }

    [Fact]
    public void Balanced_class_weights_are_n_over_K_times_count()
    {
        // Labels: rank 0 ×3, rank 1 ×1, rank 2 ×0 -> n = 4, K = 3: 4/(3·3), 4/(3·1), 0 (absent).
        var weights = ImportanceWeights.BalancedClassWeights([0, 0, 0, 1], 3);
        Assert.Equal(4f / 9f, weights[0], 6);
        Assert.Equal(4f / 3f, weights[1], 6);
        Assert.Equal(0f, weights[2]);
    }

    [Fact]
    public void Invalid_weights_are_rejected_with_their_index()
    {
        var negative = Assert.Throws<ArgumentException>(() => ImportanceWeights.ThresholdWeightsFromClassWeights([1f, -1f]));
        Assert.Contains("Weight 1", negative.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ImportanceWeights.ThresholdWeightsFromClassWeights([1f]));
        var badLabel = Assert.Throws<ArgumentException>(() => ImportanceWeights.BalancedClassWeights([0, 5], 3));
        Assert.Contains("row 1", badLabel.Message, StringComparison.Ordinal);
    }
}
