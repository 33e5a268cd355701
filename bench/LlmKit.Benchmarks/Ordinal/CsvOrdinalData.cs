using System.Globalization;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Benchmarks.Ordinal;

/// <summary>Reads a numeric CSV into an <see cref="OrdinalDataset"/>: one column is the ordinal label, the rest are features.</summary>
internal static class CsvOrdinalData
{
    public static OrdinalDataset Load(string path, int? labelColumn, bool hasHeader, TextWriter warnings)
    {
        var lines = File.ReadAllLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        if (hasHeader && lines.Count > 0)
        {
            if (lines[0].Split(',').All(c => double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            {
                warnings.WriteLine("warning: the first row is all numbers but is being skipped as a header; pass --no-header if it is data.");
            }

            lines.RemoveAt(0);
        }

        if (lines.Count < 10)
        {
            throw new InvalidDataException($"'{path}' has only {lines.Count} data rows.");
        }

        int columns = lines[0].Split(',').Length;
        int label = labelColumn ?? columns - 1;
        if (label < 0)
        {
            label += columns;
        }

        if (label < 0 || label >= columns)
        {
            throw new ArgumentOutOfRangeException(nameof(labelColumn), labelColumn, $"Label column must be in 0 … {columns - 1} (or negative from the end).");
        }

        var features = new float[lines.Count * (columns - 1)];
        var rawLabels = new double[lines.Count];
        for (int row = 0; row < lines.Count; row++)
        {
            var cells = lines[row].Split(',');
            if (cells.Length != columns)
            {
                throw new InvalidDataException($"Row {row} has {cells.Length} columns, expected {columns}.");
            }

            int f = 0;
            for (int c = 0; c < columns; c++)
            {
                if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    throw new InvalidDataException($"Row {row}, column {c}: '{cells[c]}' is not a number.");
                }

                if (c == label)
                {
                    rawLabels[row] = value;
                }
                else
                {
                    features[row * (columns - 1) + f++] = (float)value;
                }
            }
        }

        // Integer labels become the contiguous scale min … max (a value absent from the file is still a rank);
        // other numeric labels become their sorted distinct values.
        string[] names;
        int[] labels = new int[rawLabels.Length];
        if (rawLabels.All(v => v == Math.Floor(v)))
        {
            int min = (int)rawLabels.Min(), max = (int)rawLabels.Max();
            names = Enumerable.Range(min, max - min + 1).Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray();
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = (int)rawLabels[i] - min;
            }
        }
        else
        {
            var distinct = rawLabels.Distinct().Order().ToArray();
            names = distinct.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray();
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = Array.BinarySearch(distinct, rawLabels[i]);
            }
        }

        return new OrdinalDataset(features, columns - 1, labels, names);
    }
}
