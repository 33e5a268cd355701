namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>Helpers for class- and threshold-importance weights.</summary>
public static class ImportanceWeights
{
    /// <summary>
    /// Per-threshold weights from per-class weights: the boundary between ranks k and k+1 gets the mean of the
    /// two classes' weights, λ_k = (w_k + w_{k+1}) / 2, so a rare class raises both thresholds around it.
    /// </summary>
    /// <param name="classWeights">K non-negative finite weights, one per rank (K ≥ 2).</param>
    /// <returns>K−1 threshold weights.</returns>
    /// <exception cref="ArgumentException">Fewer than two weights, or a weight is negative or not finite.</exception>
    public static float[] ThresholdWeightsFromClassWeights(IReadOnlyList<float> classWeights)
    {
        ValidateWeights(classWeights, minimumCount: 2, nameof(classWeights));
        var thresholds = new float[classWeights.Count - 1];
        for (int k = 0; k < thresholds.Length; k++)
        {
            thresholds[k] = 0.5f * (classWeights[k] + classWeights[k + 1]);
        }

        return thresholds;
    }

    /// <summary>
    /// Balanced class weights n / (K · n_k) from label counts (the scheme scikit-learn calls "balanced");
    /// a rank absent from the labels gets weight 0.
    /// </summary>
    /// <param name="labels">Ranks 0 … <paramref name="rankCount"/> − 1.</param>
    /// <param name="rankCount">Number of ranks K (2 to 256).</param>
    /// <exception cref="ArgumentException">A label is outside 0 … K−1 (the message names the row) or no labels are given.</exception>
    public static float[] BalancedClassWeights(ReadOnlySpan<int> labels, int rankCount)
    {
        Heads.OrdinalHead.ValidateRankCount(rankCount);
        if (labels.IsEmpty)
        {
            throw new ArgumentException("At least one label is needed.", nameof(labels));
        }

        var counts = new int[rankCount];
        for (int row = 0; row < labels.Length; row++)
        {
            if ((uint)labels[row] >= (uint)rankCount)
            {
                throw new ArgumentException($"Label at row {row} is {labels[row]}, outside 0 … {rankCount - 1}.", nameof(labels));
            }

            counts[labels[row]]++;
        }

        var weights = new float[rankCount];
        for (int k = 0; k < rankCount; k++)
        {
            weights[k] = counts[k] == 0 ? 0f : (float)labels.Length / (rankCount * counts[k]);
        }

        return weights;
    }

    internal static void ValidateWeights(IReadOnlyList<float> weights, int minimumCount, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(weights, parameterName);
        if (weights.Count < minimumCount)
        {
            throw new ArgumentException($"Expected at least {minimumCount} weights, got {weights.Count}.", parameterName);
        }

        for (int i = 0; i < weights.Count; i++)
        {
            if (!(weights[i] >= 0f && float.IsFinite(weights[i])))
            {
                throw new ArgumentException($"Weight {i} is {weights[i]}; weights must be finite and >= 0.", parameterName);
            }
        }
    }
}
