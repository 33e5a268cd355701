namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// CORAL (Cao, Mirjalili and Raschka, 2020): one weight vector shared by all thresholds and K−1 biases,
/// P(y &gt; k) = σ(w·x + b_k); the rank is the number of P(y &gt; k) above 0.5.
/// </summary>
/// <remarks>
/// The biases are kept non-increasing (b_0 ≥ b_1 ≥ …), which makes P(y &gt; k) non-increasing in k for every
/// input: rank-consistent by construction. The constructor rejects unordered biases and the trainer projects
/// them back onto that order after every step (the CORAL paper shows the unconstrained optimum is ordered,
/// so the projection costs nothing at the optimum). Immutable and thread-safe.
/// </remarks>
public sealed class CoralHead : OrdinalHead
{
    /// <summary>Creates a CORAL head from trained parameters.</summary>
    /// <param name="weights">The shared weight vector (length = input dimension, or hidden units with a hidden layer); copied.</param>
    /// <param name="biases">K−1 non-increasing biases (1 to 255 values); copied.</param>
    /// <param name="hidden">Optional hidden layer in front of the head.</param>
    /// <exception cref="ArgumentException">A length does not match, a value is not finite, or the biases increase somewhere.</exception>
    public CoralHead(ReadOnlySpan<float> weights, ReadOnlySpan<float> biases, HiddenLayer? hidden = null)
        : base(biases.Length + 1, hidden?.InputDimension ?? weights.Length, 1, weights.ToArray(), biases.ToArray(), hidden)
    {
        FeatureGuard.ThrowIfNotFinite(weights, nameof(weights));
        FeatureGuard.ThrowIfNotFinite(biases, nameof(biases));
        for (int k = 1; k < biases.Length; k++)
        {
            if (biases[k] > biases[k - 1])
            {
                throw new ArgumentException(
                    $"CORAL biases must be non-increasing for rank-consistent predictions, but bias[{k}] = {biases[k]} > bias[{k - 1}] = {biases[k - 1]}.",
                    nameof(biases));
            }
        }
    }

    internal CoralHead(int rankCount, int inputDimension, HiddenLayer? hidden)
        : base(rankCount, inputDimension, 1, new float[hidden?.Units ?? inputDimension], new float[rankCount - 1], hidden)
    {
    }

    /// <inheritdoc />
    public override OrdinalHeadKind Kind => OrdinalHeadKind.Coral;

    /// <summary>The shared weight vector.</summary>
    public ReadOnlySpan<float> Weights => ScoreWeights;

    /// <summary>The K−1 biases, non-increasing.</summary>
    public ReadOnlySpan<float> Biases => ThresholdParameters;

    internal override void ExceedanceFromScores(ReadOnlySpan<float> scores, Span<float> exceedance)
    {
        double score = scores[0];
        for (int k = 0; k < exceedance.Length; k++)
        {
            exceedance[k] = (float)LinkMath.Sigmoid(score + ThresholdParameters[k]);
        }
    }

    internal override double AccumulateGradient(
        ReadOnlySpan<float> scores, int label, float exampleWeight, ReadOnlySpan<float> thresholdWeights,
        Span<float> scoreGradient, Span<float> thresholdGradient)
    {
        double score = scores[0];
        double loss = 0;
        double scoreGrad = 0;
        for (int k = 0; k < ThresholdParameters.Length; k++)
        {
            double taskWeight = thresholdWeights.IsEmpty ? exampleWeight : exampleWeight * thresholdWeights[k];
            double logit = score + ThresholdParameters[k];
            bool above = label > k;
            loss += taskWeight * LinkMath.BinaryCrossEntropy(logit, above);
            double g = taskWeight * (LinkMath.Sigmoid(logit) - (above ? 1.0 : 0.0));
            scoreGrad += g;
            thresholdGradient[k] += (float)g;
        }

        scoreGradient[0] += (float)scoreGrad;
        return loss;
    }

    internal override void InitializeThresholds(ReadOnlySpan<double> rankFrequencies)
    {
        for (int k = 0; k < ThresholdParameters.Length; k++)
        {
            ThresholdParameters[k] = (float)LinkMath.Logit(SmoothedExceedance(rankFrequencies, k));
        }
    }

    /// <summary>Projects the biases onto the non-increasing cone (pool adjacent violators, equal weights).</summary>
    internal override void ProjectThresholds() => IsotonicProjection.NonIncreasing(ThresholdParameters);
}
