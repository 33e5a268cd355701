namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// An ordinal-regression head: maps a feature vector to P(y &gt; k) for every threshold k = 0 … K−2 of a
/// scale with K ranks, from which the class probabilities, the predicted rank and the expected rank follow.
/// </summary>
/// <remarks>Implementations in this package are immutable once built and safe to call from many threads.</remarks>
public interface IOrdinalHead
{
    /// <summary>Number of ranks K on the scale (at least 2).</summary>
    int RankCount { get; }

    /// <summary>Length of the feature vectors the head accepts.</summary>
    int InputDimension { get; }

    /// <summary>Writes P(y &gt; k) for k = 0 … K−2 into <paramref name="exceedance"/> without allocating.</summary>
    /// <param name="features">A feature vector of length <see cref="InputDimension"/>; every value finite.</param>
    /// <param name="exceedance">Destination of length <see cref="RankCount"/> − 1.</param>
    /// <exception cref="ArgumentException">A length is wrong or a feature is NaN or infinite (the message names the column).</exception>
    void PredictExceedance(ReadOnlySpan<float> features, Span<float> exceedance);

    /// <summary>Predicts the full ordinal distribution for one feature vector.</summary>
    /// <param name="features">A feature vector of length <see cref="InputDimension"/>; every value finite.</param>
    /// <exception cref="ArgumentException">The length is wrong or a feature is NaN or infinite (the message names the column).</exception>
    OrdinalPrediction Predict(ReadOnlySpan<float> features);
}
