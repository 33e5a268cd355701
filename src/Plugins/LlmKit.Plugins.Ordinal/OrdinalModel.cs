using System.Buffers;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Persistence;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal;

/// <summary>
/// A trained ordinal model: the rank names, the feature standardisation fitted at training time and the head.
/// This is the unit that is saved and loaded (see <see cref="OrdinalModelSerializer"/>).
/// </summary>
/// <remarks>Immutable; every method is thread-safe.</remarks>
public sealed class OrdinalModel
{
    // Inputs up to this width are standardised into a stack buffer; wider ones use the shared pool.
    private const int StackFeatureLimit = 2048;

    /// <summary>Creates a model.</summary>
    /// <param name="head">The trained head: a built-in one (CORAL, CORN, cumulative link), or any <see cref="IOrdinalHead"/>
    /// (custom heads predict normally but cannot be saved by <see cref="OrdinalModelSerializer"/>).</param>
    /// <param name="labelNames">Names of the head's ranks, lowest first (count = head.RankCount).</param>
    /// <param name="standardizer">The standardisation applied before the head, or null for none.</param>
    /// <param name="embeddingModelId">Optional id of the embedding generator that produced the training features (informational).</param>
    /// <exception cref="ArgumentException">The label count or the standardiser width does not match the head.</exception>
    public OrdinalModel(IOrdinalHead head, IReadOnlyList<string> labelNames, FeatureStandardizer? standardizer = null, string? embeddingModelId = null)
    {
        ArgumentNullException.ThrowIfNull(head);
        LabelNames = OrdinalDataset.ValidateLabelNames(labelNames);
        if (LabelNames.Count != head.RankCount)
        {
            throw new ArgumentException($"The head has {head.RankCount} ranks but {LabelNames.Count} label names were given.", nameof(labelNames));
        }

        if (standardizer is not null && standardizer.Dimension != head.InputDimension)
        {
            throw new ArgumentException($"The standardiser has {standardizer.Dimension} columns but the head takes {head.InputDimension} features.", nameof(standardizer));
        }

        Head = head;
        Standardizer = standardizer;
        EmbeddingModelId = embeddingModelId;
    }

    /// <summary>The head.</summary>
    public IOrdinalHead Head { get; }

    /// <summary>Names of the ranks, lowest first.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The standardisation applied to raw features before the head (null when none).</summary>
    public FeatureStandardizer? Standardizer { get; }

    /// <summary>Id of the embedding generator the model was trained on, when known.</summary>
    public string? EmbeddingModelId { get; }

    /// <summary>Length of the raw feature vectors the model accepts.</summary>
    public int InputDimension => Head.InputDimension;

    /// <summary>Number of ranks K.</summary>
    public int RankCount => Head.RankCount;

    /// <summary>Writes P(y &gt; k), k = 0 … K−2, for raw (unstandardised) features. Allocation-free for inputs up to 2,048 wide.</summary>
    /// <param name="features">Raw features, length <see cref="InputDimension"/>, every value finite.</param>
    /// <param name="exceedance">Destination of length K − 1.</param>
    /// <exception cref="ArgumentException">A length is wrong or a feature is NaN or infinite (the message names the column).</exception>
    public void PredictExceedance(ReadOnlySpan<float> features, Span<float> exceedance)
    {
        FeatureGuard.ThrowIfLengthMismatch(InputDimension, features.Length, nameof(features));
        FeatureGuard.ThrowIfLengthMismatch(RankCount - 1, exceedance.Length, nameof(exceedance), "exceedance slots (ranks − 1)");
        FeatureGuard.ThrowIfNotFinite(features, nameof(features));
        if (Standardizer is null)
        {
            PredictStandardized(features, exceedance);
            return;
        }

        if (features.Length <= StackFeatureLimit)
        {
            Span<float> standardized = stackalloc float[features.Length];
            Standardizer.TransformUnchecked(features, standardized);
            PredictStandardized(standardized, exceedance);
            return;
        }

        float[] rented = ArrayPool<float>.Shared.Rent(features.Length);
        try
        {
            var standardized = rented.AsSpan(0, features.Length);
            Standardizer.TransformUnchecked(features, standardized);
            PredictStandardized(standardized, exceedance);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private void PredictStandardized(ReadOnlySpan<float> standardized, Span<float> exceedance)
    {
        if (Head is OrdinalHead builtIn)
        {
            builtIn.PredictExceedanceUnchecked(standardized, exceedance); // already validated above
        }
        else
        {
            Head.PredictExceedance(standardized, exceedance);
        }
    }

    /// <summary>Predicts the ordinal distribution for raw features.</summary>
    /// <param name="features">Raw features, length <see cref="InputDimension"/>, every value finite.</param>
    /// <exception cref="ArgumentException">The length is wrong or a feature is NaN or infinite.</exception>
    public OrdinalPrediction Predict(ReadOnlySpan<float> features)
    {
        var exceedance = new float[RankCount - 1];
        PredictExceedance(features, exceedance);
        return OrdinalPrediction.Own(exceedance);
    }

    /// <summary>Predicts only the rank (allocation-free).</summary>
    /// <param name="features">Raw features, length <see cref="InputDimension"/>, every value finite.</param>
    /// <exception cref="ArgumentException">The length is wrong or a feature is NaN or infinite.</exception>
    public int PredictRank(ReadOnlySpan<float> features)
    {
        Span<float> exceedance = stackalloc float[RankCount - 1];
        PredictExceedance(features, exceedance);
        return OrdinalPrediction.RankFromExceedance(exceedance);
    }

    /// <summary>Predicts the rank of every row of <paramref name="data"/>.</summary>
    /// <param name="data">Rows of raw features with <see cref="InputDimension"/> columns.</param>
    /// <exception cref="ArgumentException">The column count differs from <see cref="InputDimension"/>.</exception>
    public int[] PredictRanks(OrdinalDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        FeatureGuard.ThrowIfLengthMismatch(InputDimension, data.ColumnCount, nameof(data), "columns");
        var ranks = new int[data.RowCount];
        for (int row = 0; row < ranks.Length; row++)
        {
            ranks[row] = PredictRank(data.GetRow(row));
        }

        return ranks;
    }
}
