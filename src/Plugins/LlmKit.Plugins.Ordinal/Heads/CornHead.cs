namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// CORN (Shi, Cao and Raschka, 2023): K−1 binary tasks, task k estimating P(y &gt; k | y ≥ k) from the
/// training examples with y ≥ k only; P(y &gt; k) is the running product of those conditional probabilities,
/// so it is non-increasing in k for every input (rank-consistent) without tying the tasks' weights together.
/// </summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class CornHead : OrdinalHead
{
    /// <summary>Creates a CORN head from trained parameters.</summary>
    /// <param name="weights">K−1 weight vectors, row-major ((K−1) × input dimension, or × hidden units with a hidden layer); copied.</param>
    /// <param name="biases">K−1 task biases (1 to 255 values); copied.</param>
    /// <param name="hidden">Optional hidden layer shared by all tasks.</param>
    /// <exception cref="ArgumentException">A length does not match or a value is not finite.</exception>
    public CornHead(ReadOnlySpan<float> weights, ReadOnlySpan<float> biases, HiddenLayer? hidden = null)
        : base(biases.Length + 1, hidden?.InputDimension ?? InputDimensionOf(weights.Length, biases.Length), biases.Length, weights.ToArray(), biases.ToArray(), hidden)
    {
        FeatureGuard.ThrowIfNotFinite(weights, nameof(weights));
        FeatureGuard.ThrowIfNotFinite(biases, nameof(biases));
    }

    internal CornHead(int rankCount, int inputDimension, HiddenLayer? hidden)
        : base(rankCount, inputDimension, rankCount - 1, new float[(rankCount - 1) * (hidden?.Units ?? inputDimension)], new float[rankCount - 1], hidden)
    {
    }

    /// <inheritdoc />
    public override OrdinalHeadKind Kind => OrdinalHeadKind.Corn;

    /// <summary>The task weight vectors, row-major (K−1 rows).</summary>
    public ReadOnlySpan<float> Weights => ScoreWeights;

    /// <summary>The K−1 task biases.</summary>
    public ReadOnlySpan<float> Biases => ThresholdParameters;

    internal override void ExceedanceFromScores(ReadOnlySpan<float> scores, Span<float> exceedance)
    {
        double running = 1.0;
        for (int k = 0; k < exceedance.Length; k++)
        {
            running *= LinkMath.Sigmoid((double)scores[k] + ThresholdParameters[k]);
            exceedance[k] = (float)running;
        }
    }

    internal override double AccumulateGradient(
        ReadOnlySpan<float> scores, int label, float exampleWeight, ReadOnlySpan<float> thresholdWeights,
        Span<float> scoreGradient, Span<float> thresholdGradient)
    {
        // Task k sees only examples with y >= k, i.e. tasks 0 … min(label, K−2).
        int lastTask = Math.Min(label, ThresholdParameters.Length - 1);
        double loss = 0;
        for (int k = 0; k <= lastTask; k++)
        {
            double taskWeight = thresholdWeights.IsEmpty ? exampleWeight : exampleWeight * thresholdWeights[k];
            double logit = (double)scores[k] + ThresholdParameters[k];
            bool above = label > k;
            loss += taskWeight * LinkMath.BinaryCrossEntropy(logit, above);
            float g = (float)(taskWeight * (LinkMath.Sigmoid(logit) - (above ? 1.0 : 0.0)));
            scoreGradient[k] += g;
            thresholdGradient[k] += g;
        }

        return loss;
    }

    internal override void InitializeThresholds(ReadOnlySpan<double> rankFrequencies)
    {
        for (int k = 0; k < ThresholdParameters.Length; k++)
        {
            double atLeast = 0;
            for (int r = k; r < rankFrequencies.Length; r++)
            {
                atLeast += rankFrequencies[r];
            }

            double above = atLeast - rankFrequencies[k];
            double conditional = atLeast > 0 ? Math.Clamp(above / atLeast, 1e-4, 1 - 1e-4) : 0.5;
            ThresholdParameters[k] = (float)LinkMath.Logit(conditional);
        }
    }

    private static int InputDimensionOf(int weightCount, int taskCount)
    {
        if (taskCount == 0)
        {
            return Math.Max(1, weightCount); // the base constructor reports the missing ranks
        }

        if (weightCount % taskCount != 0)
        {
            throw new ArgumentException($"CORN weights must hold one row per task: {weightCount} values do not split into {taskCount} rows.", "weights");
        }

        return weightCount / taskCount;
    }
}
