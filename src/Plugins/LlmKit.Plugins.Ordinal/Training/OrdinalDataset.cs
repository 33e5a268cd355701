using System.Diagnostics;
using LlmKit.Plugins.Ordinal.Heads;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>
/// Labelled feature vectors for ordinal training: a row-major matrix of finite floats, one rank (0 … K−1)
/// per row and the names of the K ranks in order. Validated on construction; immutable afterwards and thread-safe.
/// </summary>
public sealed class OrdinalDataset
{
    private readonly float[] _features;
    private readonly int[] _labels;

    /// <summary>Creates a dataset from one feature array per row.</summary>
    /// <param name="features">The rows; all of the same non-zero length, every value finite.</param>
    /// <param name="labels">One rank per row, each in 0 … <paramref name="labelNames"/>.Count − 1.</param>
    /// <param name="labelNames">Names of the ranks from lowest to highest (2 to 256 distinct, non-empty names).</param>
    /// <exception cref="ArgumentException">Rows differ in length, a feature is NaN or infinite, a label is outside the declared ranks,
    /// or fewer than two ranks are declared; the message names the row and column.</exception>
    public static OrdinalDataset FromRows(IReadOnlyList<float[]> features, IReadOnlyList<int> labels, IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count == 0)
        {
            throw new ArgumentException("A dataset needs at least one row.", nameof(features));
        }

        int columns = features[0]?.Length ?? throw new ArgumentException("Row 0 is null.", nameof(features));
        var matrix = new float[checked(features.Count * columns)];
        for (int row = 0; row < features.Count; row++)
        {
            var values = features[row] ?? throw new ArgumentException($"Row {row} is null.", nameof(features));
            if (values.Length != columns)
            {
                throw new ArgumentException($"Row {row} has {values.Length} features but row 0 has {columns}.", nameof(features));
            }

            values.CopyTo(matrix, row * columns);
        }

        return new OrdinalDataset(matrix, columns, labels, labelNames);
    }

    /// <summary>Creates a dataset from a row-major feature matrix (not copied: do not change it afterwards).</summary>
    /// <param name="features">Row-major values, <c>rows × columnCount</c>, every value finite.</param>
    /// <param name="columnCount">Features per row (at least 1).</param>
    /// <param name="labels">One rank per row, each in 0 … <paramref name="labelNames"/>.Count − 1; copied.</param>
    /// <param name="labelNames">Names of the ranks from lowest to highest (2 to 256 distinct, non-empty names).</param>
    /// <exception cref="ArgumentException">See <see cref="FromRows"/>.</exception>
    public OrdinalDataset(float[] features, int columnCount, IReadOnlyList<int> labels, IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(columnCount, 1);
        LabelNames = ValidateLabelNames(labelNames);
        if (features.Length % columnCount != 0)
        {
            throw new ArgumentException($"{features.Length} values do not form whole rows of {columnCount} columns.", nameof(features));
        }

        int rows = features.Length / columnCount;
        if (rows == 0)
        {
            throw new ArgumentException("A dataset needs at least one row.", nameof(features));
        }

        if (labels.Count != rows)
        {
            throw new ArgumentException($"Expected one label per row: {rows} rows but {labels.Count} labels.", nameof(labels));
        }

        for (int row = 0; row < rows; row++)
        {
            FeatureGuard.ThrowIfNotFinite(features.AsSpan(row * columnCount, columnCount), nameof(features), row);
        }

        _labels = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int label = labels[row];
            if ((uint)label >= (uint)LabelNames.Count)
            {
                throw new ArgumentException(
                    $"Label at row {row} is {label}, outside the declared ranks 0 … {LabelNames.Count - 1} ({string.Join(", ", LabelNames)}).",
                    nameof(labels));
            }

            _labels[row] = label;
        }

        _features = features;
        ColumnCount = columnCount;
        RowCount = rows;
    }

    /// <summary>Number of rows.</summary>
    public int RowCount { get; }

    /// <summary>Number of features per row.</summary>
    public int ColumnCount { get; }

    /// <summary>Number of ranks K.</summary>
    public int RankCount => LabelNames.Count;

    /// <summary>Names of the ranks from lowest to highest.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The rank of every row.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The features of one row.</summary>
    /// <param name="row">Row index, 0 … <see cref="RowCount"/> − 1.</param>
    public ReadOnlySpan<float> GetRow(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, RowCount);
        return _features.AsSpan(row * ColumnCount, ColumnCount);
    }

    /// <summary>A new dataset holding the given rows in the given order (copied).</summary>
    /// <param name="rows">Row indices, each in range.</param>
    public OrdinalDataset Subset(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var features = new float[checked(rows.Count * ColumnCount)];
        var labels = new int[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            GetRow(rows[i]).CopyTo(features.AsSpan(i * ColumnCount, ColumnCount));
            labels[i] = _labels[rows[i]];
        }

        return new OrdinalDataset(features, ColumnCount, labels, LabelNames, alreadyValidated: true);
    }

    /// <summary>Default rank names "0", "1", … for a scale of <paramref name="rankCount"/> ranks.</summary>
    /// <param name="rankCount">2 to 256.</param>
    public static IReadOnlyList<string> DefaultLabelNames(int rankCount)
    {
        OrdinalHead.ValidateRankCount(rankCount);
        var names = new string[rankCount];
        for (int i = 0; i < rankCount; i++)
        {
            names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return names;
    }

    internal ReadOnlySpan<float> Matrix => _features;

    /// <summary>For rows copied from a validated dataset: skips the checks (the flag only selects this overload).</summary>
    private OrdinalDataset(float[] features, int columnCount, int[] labels, IReadOnlyList<string> labelNames, bool alreadyValidated)
    {
        Debug.Assert(alreadyValidated);
        _features = features;
        _labels = labels;
        ColumnCount = columnCount;
        RowCount = labels.Length;
        LabelNames = labelNames;
    }

    internal static IReadOnlyList<string> ValidateLabelNames(IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        if (labelNames.Count < 2)
        {
            throw new ArgumentException($"An ordinal scale needs at least two ranks; {labelNames.Count} declared.", nameof(labelNames));
        }

        if (labelNames.Count > OrdinalHead.MaxRankCount)
        {
            throw new ArgumentException($"At most {OrdinalHead.MaxRankCount} ranks are supported; {labelNames.Count} declared.", nameof(labelNames));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var copy = new string[labelNames.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            string? name = labelNames[i];
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException($"Rank name {i} is empty.", nameof(labelNames));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Rank name '{name}' appears twice.", nameof(labelNames));
            }

            copy[i] = name;
        }

        return copy;
    }
}
