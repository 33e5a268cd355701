using LlmKit.Testing;

namespace LlmKit.Plugins.Moderation.Tests.Support;

/// <summary>The test suite's own injection set and the shared sentiment sentences.</summary>
internal static class TestData
{
    public sealed record SuiteRow(bool IsInjection, string Category, string Text);

    public static IReadOnlyList<SuiteRow> InjectionSuite { get; } = LoadSuite("injection-suite.tsv");

    /// <summary>
    /// Sets written before the rules that catch them, to estimate how the heuristics do on phrasings they were not
    /// written against: <c>injection-holdout-N.tsv</c>, same format as the suite.
    /// </summary>
    public static IReadOnlyList<SuiteRow> Holdout(int number) => LoadSuite($"injection-holdout-{number}.tsv");

    /// <summary>
    /// Benign repetitive inputs (<c>benign-repetitive.tsv</c>, same format as the suite): repeated sentences and words
    /// ("I want soup." × 2,000, which PluginAgent once blocked), song lyrics, lists and tables. Repetition alone is not an injection.
    /// </summary>
    public static IReadOnlyList<SuiteRow> BenignRepetitive { get; } = LoadSuite("benign-repetitive.tsv");

    /// <summary>Restaurant reviews (in-domain) and phone reviews (off-domain), 1,000 each, in file order.</summary>
    public static (IReadOnlyList<string> Yelp, IReadOnlyList<string> Amazon) Sentiment()
    {
        return (Sentences("datasets/sentiment-sentences/yelp_labelled.txt"), Sentences("datasets/sentiment-sentences/amazon_cells_labelled.txt"));
    }

    /// <summary>A seeded split: every k-th sentence after a seeded shuffle goes to training.</summary>
    public static (List<string> Train, List<string> Test) Split(IReadOnlyList<string> items, double trainFraction, int seed)
    {
        var shuffled = items.ToArray();
        new Random(seed).Shuffle(shuffled);
        int trainCount = (int)Math.Round(shuffled.Length * trainFraction);
        return ([.. shuffled.Take(trainCount)], [.. shuffled.Skip(trainCount)]);
    }

    private static List<string> Sentences(string relativePath) =>
        [.. File.ReadLines(SharedFixtures.File(relativePath)).Where(l => l.Contains('\t')).Select(l => l[..l.LastIndexOf('\t')].Trim())];

    private static List<SuiteRow> LoadSuite(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Data", file);
        var rows = new List<SuiteRow>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            var parts = line.Split('\t', 3);
            rows.Add(new SuiteRow(parts[0] == "1", parts[1], parts[2].Replace("\\n", "\n", StringComparison.Ordinal)));
        }

        return rows;
    }
}
