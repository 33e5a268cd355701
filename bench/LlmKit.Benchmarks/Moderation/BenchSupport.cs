using System.Globalization;

namespace LlmKit.Benchmarks.Moderation;

internal sealed record BenchOptions(string Input, string Output, double TrainFraction, int Seed, string? Model, string Injection, string Domain)
{
    /// <summary>Hashing-embedding settings for an extra embedding row (--dims, --char-weight, --word-ngrams, --min-char, --max-char); null when none given.</summary>
    public LlmKit.Embeddings.HashingEmbeddingOptions? Hashing { get; init; }

    /// <summary>The <c>--embeddings</c> switch: hashing (default), minilm or a model folder.</summary>
    public string Embeddings { get; init; } = "hashing";

    public static BenchOptions? Parse(string[] args)
    {
        string? input = null, output = null, model = null, injection = null;
        string embeddings = "hashing";
        string domain = "restaurants, food and dining";
        double fraction = 0.2;
        LlmKit.Embeddings.HashingEmbeddingOptions? hashing = null;
        int seed = 42;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--in": input = args[i + 1]; break;
                case "--out": output = args[i + 1]; break;
                case "--train-fraction": fraction = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--model": model = args[i + 1]; break;
                case "--injection": injection = args[i + 1]; break;
                case "--domain": domain = args[i + 1]; break;
                case "--embeddings": embeddings = args[i + 1]; break;
                case "--dims": hashing = (hashing ?? new()) with { Dimensions = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--char-weight": hashing = (hashing ?? new()) with { CharNGramWeight = float.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--word-ngrams": hashing = (hashing ?? new()) with { MaxWordNGram = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--min-char": hashing = (hashing ?? new()) with { MinCharNGram = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                case "--max-char": hashing = (hashing ?? new()) with { MaxCharNGram = int.Parse(args[i + 1], CultureInfo.InvariantCulture) }; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return null;
            }
        }

        if (input is null || output is null || args.Length % 2 != 0)
        {
            return null;
        }

        if (!(fraction > 0 && fraction < 1))
        {
            Console.Error.WriteLine($"--train-fraction must be in (0, 1); got {fraction}");
            return null;
        }

        injection ??= Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "tests", "LlmKit.Plugins.Moderation.Tests", "Data", "injection-suite.tsv");
        return new BenchOptions(input, output, fraction, seed, model, Path.GetFullPath(injection), domain) { Hashing = hashing, Embeddings = embeddings };
    }
}

internal static class DomainData
{
    public static (List<string> InDomain, List<string> OffDomain) Load(string path)
    {
        if (Directory.Exists(path))
        {
            return (Sentences(Path.Combine(path, "yelp_labelled.txt")), Sentences(Path.Combine(path, "amazon_cells_labelled.txt")));
        }

        var inDomain = new List<string>();
        var offDomain = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            int tab = line.LastIndexOf('\t');
            if (tab <= 0)
            {
                continue;
            }

            string label = line[(tab + 1)..].Trim();
            (label is "off" or "1" ? offDomain : inDomain).Add(line[..tab].Trim());
        }

        return (inDomain, offDomain);
    }

    public static (List<string> Train, List<string> Test) Split(List<string> items, double trainFraction, int seed)
    {
        var shuffled = items.ToArray();
        new Random(seed).Shuffle(shuffled);
        int trainCount = (int)Math.Round(shuffled.Length * trainFraction);
        return ([.. shuffled.Take(trainCount)], [.. shuffled.Skip(trainCount)]);
    }

    private static List<string> Sentences(string file) =>
        [.. File.ReadLines(file).Where(l => l.Contains('\t')).Select(l => l[..l.LastIndexOf('\t')].Trim())];
}

internal static class InjectionData
{
    /// <summary>Reads 'label&lt;TAB&gt;category&lt;TAB&gt;text' (the suite's format) or 'text&lt;TAB&gt;label'; label 1 = injection.</summary>
    public static List<(string Text, bool Injection)> Load(string path)
    {
        var rows = new List<(string, bool)>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var parts = line.Split('\t');
            if (parts.Length >= 3 && parts[0] is "0" or "1")
            {
                rows.Add((string.Join('\t', parts[2..]).Replace("\\n", "\n", StringComparison.Ordinal), parts[0] == "1"));
            }
            else if (parts.Length == 2)
            {
                rows.Add((parts[0].Replace("\\n", "\n", StringComparison.Ordinal), parts[1].Trim() is "1" or "injection"));
            }
        }

        return rows;
    }
}

internal sealed class Roc
{
    private readonly List<(double Score, bool Positive)> _sorted;
    private readonly int _positives;
    private readonly int _negatives;

    private Roc(List<(double Score, bool Positive)> scores)
    {
        _sorted = [.. scores.OrderByDescending(s => s.Score)];
        _positives = scores.Count(s => s.Positive);
        _negatives = scores.Count - _positives;
    }

    public static Roc Of(List<(double Score, bool Positive)> scores) => new(scores);

    /// <summary>P(score of a random positive > score of a random negative), ties counted half (Mann–Whitney).</summary>
    public double Auroc
    {
        get
        {
            var ascending = _sorted.AsEnumerable().Reverse().ToList();
            double rankSum = 0;
            int i = 0;
            while (i < ascending.Count)
            {
                int j = i;
                while (j + 1 < ascending.Count && ascending[j + 1].Score == ascending[i].Score)
                {
                    j++;
                }

                double rank = ((i + j) / 2.0) + 1;
                for (int k = i; k <= j; k++)
                {
                    if (ascending[k].Positive)
                    {
                        rankSum += rank;
                    }
                }

                i = j + 1;
            }

            return (rankSum - (_positives * (_positives + 1) / 2.0)) / ((double)_positives * _negatives);
        }
    }

    /// <summary>The highest recall over thresholds whose false-positive rate stays at or below <paramref name="maxFpr"/>.</summary>
    public double RecallAtFpr(double maxFpr)
    {
        double best = 0;
        int tp = 0, fp = 0;
        for (int i = 0; i < _sorted.Count; i++)
        {
            if (_sorted[i].Positive) tp++;
            else fp++;

            // Only cut between distinct scores.
            if (i + 1 < _sorted.Count && _sorted[i + 1].Score == _sorted[i].Score)
            {
                continue;
            }

            if (fp <= maxFpr * _negatives)
            {
                best = Math.Max(best, tp / (double)_positives);
            }
        }

        return best;
    }
}
