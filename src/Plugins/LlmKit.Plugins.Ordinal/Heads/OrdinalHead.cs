using System.Buffers;
using System.Numerics.Tensors;

namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// Shared machinery of the built-in heads: an optional <see cref="HiddenLayer"/>, a linear score layer
/// (one score for CORAL and cumulative link, one per threshold for CORN) and K−1 threshold parameters
/// that a subclass turns into P(y &gt; k).
/// </summary>
/// <remarks>
/// Instances handed out by constructors, the trainer or the serializer are never mutated afterwards, so every
/// method is safe to call concurrently.
/// </remarks>
public abstract class OrdinalHead : IOrdinalHead
{
    /// <summary>Largest number of ranks accepted (keeps per-call scratch on the stack).</summary>
    public const int MaxRankCount = 256;

    // Hidden layers up to this width keep their activations on the stack at inference.
    private const int StackHiddenLimit = 512;

    private protected OrdinalHead(int rankCount, int inputDimension, int scoreCount, float[] scoreWeights, float[] thresholdParameters, HiddenLayer? hidden)
    {
        ValidateRankCount(rankCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputDimension, 1);
        if (hidden is not null && hidden.InputDimension != inputDimension)
        {
            throw new ArgumentException($"The hidden layer takes {hidden.InputDimension} inputs but the head takes {inputDimension}.", nameof(hidden));
        }

        RankCount = rankCount;
        InputDimension = inputDimension;
        Hidden = hidden;
        ScoreCount = scoreCount;
        FeatureGuard.ThrowIfLengthMismatch(scoreCount * FeatureDimension, scoreWeights.Length, "weights", "weights");
        FeatureGuard.ThrowIfLengthMismatch(rankCount - 1, thresholdParameters.Length, "thresholds", "threshold parameters (ranks − 1)");
        ScoreWeights = scoreWeights;
        ThresholdParameters = thresholdParameters;
    }

    /// <inheritdoc />
    public int RankCount { get; }

    /// <inheritdoc />
    public int InputDimension { get; }

    /// <summary>The optional hidden layer in front of the head (null for a linear head).</summary>
    public HiddenLayer? Hidden { get; }

    /// <summary>Which family this head belongs to.</summary>
    public abstract OrdinalHeadKind Kind { get; }

    /// <summary>Length of the vector the score layer sees: hidden units, or the input dimension without a hidden layer.</summary>
    internal int FeatureDimension => Hidden?.Units ?? InputDimension;

    internal int ScoreCount { get; }

    /// <summary>Score-layer weights, row-major ScoreCount × FeatureDimension. Mutated only by the trainer before hand-out.</summary>
    internal float[] ScoreWeights { get; }

    /// <summary>K−1 parameters whose meaning each head defines. Mutated only by the trainer before hand-out.</summary>
    internal float[] ThresholdParameters { get; }

    /// <summary>Whether per-threshold importance weights make sense for this head's loss.</summary>
    internal virtual bool SupportsThresholdWeights => true;

    /// <inheritdoc />
    public void PredictExceedance(ReadOnlySpan<float> features, Span<float> exceedance)
    {
        FeatureGuard.ThrowIfLengthMismatch(InputDimension, features.Length, nameof(features));
        FeatureGuard.ThrowIfLengthMismatch(RankCount - 1, exceedance.Length, nameof(exceedance), "exceedance slots (ranks − 1)");
        FeatureGuard.ThrowIfNotFinite(features, nameof(features));
        PredictExceedanceUnchecked(features, exceedance);
    }

    /// <inheritdoc />
    public OrdinalPrediction Predict(ReadOnlySpan<float> features)
    {
        var exceedance = new float[RankCount - 1];
        PredictExceedance(features, exceedance);
        return OrdinalPrediction.Own(exceedance);
    }

    /// <summary>Inference without argument checks (callers have validated).</summary>
    internal void PredictExceedanceUnchecked(ReadOnlySpan<float> features, Span<float> exceedance)
    {
        Span<float> scores = stackalloc float[ScoreCount];
        if (Hidden is null)
        {
            ComputeScores(features, scores);
        }
        else if (Hidden.Units <= StackHiddenLimit)
        {
            Span<float> hidden = stackalloc float[Hidden.Units];
            Hidden.Forward(features, hidden);
            ComputeScores(hidden, scores);
        }
        else
        {
            float[] rented = ArrayPool<float>.Shared.Rent(Hidden.Units);
            var hidden = rented.AsSpan(0, Hidden.Units);
            Hidden.Forward(features, hidden);
            ComputeScores(hidden, scores);
            ArrayPool<float>.Shared.Return(rented);
        }

        ExceedanceFromScores(scores, exceedance);
    }

    /// <summary>scores[m] = w_m · z for the score layer.</summary>
    internal void ComputeScores(ReadOnlySpan<float> z, Span<float> scores)
    {
        int width = FeatureDimension;
        var weights = ScoreWeights.AsSpan();
        for (int m = 0; m < ScoreCount; m++)
        {
            scores[m] = TensorPrimitives.Dot(weights.Slice(m * width, width), z);
        }
    }

    /// <summary>Turns score-layer outputs into P(y &gt; k).</summary>
    internal abstract void ExceedanceFromScores(ReadOnlySpan<float> scores, Span<float> exceedance);

    /// <summary>
    /// Adds this example's loss gradient with respect to the scores and the threshold parameters and returns
    /// its weighted loss. <paramref name="thresholdWeights"/> is empty when every threshold weighs 1.
    /// </summary>
    internal abstract double AccumulateGradient(
        ReadOnlySpan<float> scores, int label, float exampleWeight, ReadOnlySpan<float> thresholdWeights,
        Span<float> scoreGradient, Span<float> thresholdGradient);

    /// <summary>Sets the threshold parameters from the training labels' rank frequencies (a good starting point).</summary>
    internal abstract void InitializeThresholds(ReadOnlySpan<double> rankFrequencies);

    /// <summary>Restores any constraint an optimiser step may have broken (default: none).</summary>
    internal virtual void ProjectThresholds()
    {
    }

    internal static void ValidateRankCount(int rankCount)
    {
        if (rankCount is < 2 or > MaxRankCount)
        {
            throw new ArgumentOutOfRangeException(nameof(rankCount), rankCount, $"An ordinal scale needs 2 to {MaxRankCount} ranks.");
        }
    }

    /// <summary>Smoothed P(y &gt; k) from rank frequencies, kept inside (0, 1).</summary>
    private protected static double SmoothedExceedance(ReadOnlySpan<double> frequencies, int k)
    {
        double above = 0;
        for (int r = k + 1; r < frequencies.Length; r++)
        {
            above += frequencies[r];
        }

        return Math.Clamp(above, 1e-4, 1 - 1e-4);
    }
}
