using System.Globalization;
using LlmKit.Plugins.Ordinal.Training;
using LlmKit.Testing;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>Loads the shared red-wine quality file (no header; 11 features then quality 3 … 8 mapped to ranks 0 … 5).</summary>
internal static class WineData
{
    private static readonly Lazy<OrdinalDataset> Cached = new(Load);

    public static OrdinalDataset Dataset => Cached.Value;

    private static OrdinalDataset Load()
    {
        var lines = File.ReadAllLines(SharedFixtures.File("datasets/wine-quality/winequality-red.csv"));
        var rows = new List<float[]>();
        var labels = new List<int>();
        foreach (var line in lines)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var cells = line.Split(',');
            var features = new float[cells.Length - 1];
            for (int c = 0; c < features.Length; c++)
            {
                features[c] = float.Parse(cells[c], CultureInfo.InvariantCulture);
            }

            rows.Add(features);
            labels.Add(int.Parse(cells[^1], CultureInfo.InvariantCulture) - 3);
        }

        return OrdinalDataset.FromRows(rows, labels, ["3", "4", "5", "6", "7", "8"]);
    }
}
