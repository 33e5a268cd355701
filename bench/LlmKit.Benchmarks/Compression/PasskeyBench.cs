using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using LlmKit.Scoring;

namespace LlmKit.Benchmarks.Compression;

/// <summary>
/// <c>compress passkey</c>: one line "The pass key is 68231. Remember it." hidden at a chosen depth in a haystack of
/// filler sentences, and a question asking for it. Does a compression method keep the passkey verbatim (every digit, in
/// order, as one number) at a given rate? Methods: ours question-aware, ours without the question, random token
/// dropping at the same ratio, keep-the-last-N-tokens truncation. Options: <c>--lengths</c>, <c>--depths</c> (percent),
/// <c>--rates</c>, <c>--haystacks</c> (per cell), <c>--story-tokens</c> (size of the generated story pool), <c>--show-failures</c> (print what ours-question kept when it missed), <c>--ranking</c> (a <see cref="SegmentRanking"/> name; default Auto).
/// </summary>
internal static class PasskeyBench
{
    /// <summary>Ten wordings: the passkey line and the question that asks for it.</summary>
    private static readonly (string Line, string Question)[] Wordings =
    [
        ("The pass key is {0}. Remember it.", "What is the pass key?"),
        ("Remember this pass key: {0}.", "Which pass key were you asked to remember?"),
        ("The secret code is {0}. Keep it safe.", "What is the secret code?"),
        ("Your access number is {0}, do not forget it.", "What is your access number?"),
        ("The password for the vault is {0}.", "What is the password for the vault?"),
        ("Write down the passkey {0} now.", "What passkey were you told to write down?"),
        ("The locker combination is {0}. Remember it.", "What is the locker combination?"),
        ("Listen carefully, the code word is {0}.", "What is the code word?"),
        ("The ticket number you need is {0}.", "Which ticket number do you need?"),
        ("Important: the pin is {0}.", "What is the pin?"),
    ];

    private static readonly string[] Methods = ["ours-question", "ours-no-question", "random-drop", "truncate-last-n"];

    public static async Task<int> RunAsync(string[] args, OnnxGenAIModel model, ITokenScorer scorer, string shared, CancellationToken cancellationToken)
    {
        int[] lengths = Ints(Option(args, "--lengths", "500,2000,8000,32000"));
        int[] depths = Ints(Option(args, "--depths", "0,25,50,75,100"));
        double[] rates = Option(args, "--rates", "0.5,0.2,0.1,0.05").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int haystacks = int.Parse(Option(args, "--haystacks", "10"), CultureInfo.InvariantCulture);
        bool showFailures = args.Contains("--show-failures");
        int storyTokens = int.Parse(Option(args, "--story-tokens", "30000"), CultureInfo.InvariantCulture);

        // Digits are NOT force-kept here: with KeepDigits (the default) every number survives any of our methods, and
        // the benchmark would measure that rule, not whether the ranking finds the passkey line.
        var options = new PromptCompressionOptions { KeepDigits = false, SegmentRanking = Enum.Parse<SegmentRanking>(Option(args, "--ranking", nameof(SegmentRanking.Auto)), ignoreCase: true) };
        var ours = new PromptCompressor(scorer, options);

        Console.WriteLine($"# compress passkey — scorer window {scorer.MaxSequenceLength}, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"args: {string.Join(' ', args)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lengths {string.Join(',', lengths)}; depths {string.Join(',', depths)}%; rates {string.Join(',', rates)}; {haystacks} haystacks per cell (even: story filler, odd: review filler); KeepDigits off for ours; segment ranking {options.SegmentRanking}."));

        var clock = Stopwatch.StartNew();
        string[] stories = await StorySentencesAsync(model, storyTokens, cancellationToken);
        string[] reviews = ReviewSentences(shared);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"filler: {stories.Length} story sentences sampled from stories260K (temperature 1, seeds 1..n, {clock.Elapsed.TotalSeconds:0} s), {reviews.Length} review sentences (yelp + amazon)"));
        Console.WriteLine();

        // results[(length, depth, rate, method)] = (kept, total, ratio sum)
        var kept = new Dictionary<(int, int, double, string), (int Kept, int Total, double RatioSum)>();
        var msPer1K = new Dictionary<(int, string), List<double>>();
        var cpuPer1K = new Dictionary<(int, string, double), List<double>>();
        var wallPer1K = new Dictionary<(int, string, double), List<double>>();
        var actualLengths = new Dictionary<int, List<int>>();
        foreach (int length in lengths)
        {
            foreach (int depth in depths)
            {
                for (int h = 0; h < haystacks; h++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var rng = new Random(unchecked((((((length * 31) + depth) * 31) + h) * 31) + 19)); // stable across runs, so a miss can be replayed
                    (string line, string question) = Wordings[h % Wordings.Length];
                    string passkey = rng.Next(10000, 100000).ToString(CultureInfo.InvariantCulture);
                    string haystack = Haystack(ours, h % 2 == 0 ? stories : reviews, string.Format(CultureInfo.InvariantCulture, line, passkey), length, depth, rng);
                    int haystackTokens = ours.CountTokens(haystack);
                    (actualLengths.TryGetValue(length, out var list) ? list : actualLengths[length] = []).Add(haystackTokens);
                    int[] ids = [.. scorer.Tokenizer.EncodeToIds(haystack, considerPreTokenization: true, considerNormalization: true)];
                    foreach (double rate in rates)
                    {
                        foreach (string method in Methods)
                        {
                            TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                            var timer = Stopwatch.StartNew();
                            string output = method switch
                            {
                                "ours-question" => (await ours.CompressAsync(new PromptParts(null, [haystack], null) { Query = question }, CompressionTarget.Rate(rate), cancellationToken)).Text,
                                "ours-no-question" => (await ours.CompressAsync(haystack, CompressionTarget.Rate(rate), cancellationToken)).Text,
                                "random-drop" => RandomDrop(scorer, ids, rate, rng),
                                _ => Truncate(scorer, ids, rate),
                            };
                            timer.Stop();
                            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
                            if (method.StartsWith("ours", StringComparison.Ordinal))
                            {
                                (msPer1K.TryGetValue((length, method), out var times) ? times : msPer1K[(length, method)] = []).Add(timer.Elapsed.TotalMilliseconds / (haystackTokens / 1000.0));
                                (cpuPer1K.TryGetValue((length, method, rate), out var cpu) ? cpu : cpuPer1K[(length, method, rate)] = []).Add(cpuMs / (haystackTokens / 1000.0));
                                (wallPer1K.TryGetValue((length, method, rate), out var wall) ? wall : wallPer1K[(length, method, rate)] = []).Add(timer.Elapsed.TotalMilliseconds / (haystackTokens / 1000.0));
                            }

                            bool found = output.Contains(passkey, StringComparison.Ordinal);
                            if (!found && showFailures && method == "ours-question")
                            {
                                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"missed: length {length} depth {depth}% rate {RateLabel(rate)} haystack {h} passkey {passkey} question \"{question}\" -> {output}"));
                            }

                            double ratio = ours.CountTokens(output) / (double)haystackTokens;
                            var key = (length, depth, rate, method);
                            (int k, int n, double r) = kept.TryGetValue(key, out var v) ? v : (0, 0, 0);
                            kept[key] = (k + (found ? 1 : 0), n + 1, r + ratio);
                        }
                    }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"length {length} done: actual haystack tokens {actualLengths[length].Min()}–{actualLengths[length].Max()}; ours-question {msPer1K[(length, "ours-question")].Average():0.0} ms / 1K tokens, ours-no-question {msPer1K[(length, "ours-no-question")].Average():0.0} ms / 1K tokens ({clock.Elapsed.TotalSeconds:0} s so far)"));
        }

        Console.WriteLine();
        foreach (string method in Methods)
        {
            foreach (double rate in rates)
            {
                int k = 0, n = 0;
                foreach (var entry in kept.Where(e => e.Key.Item4 == method && e.Key.Item3 == rate))
                {
                    k += entry.Value.Kept;
                    n += entry.Value.Total;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"passkey kept: method={method} rate={RateLabel(rate)} -> {k}/{n}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("Per length and rate: passkey kept over all depths (K/N), the worst depth's K/n, and the mean achieved ratio.");
        Console.WriteLine();
        Console.WriteLine("| tokens | rate | " + string.Join(" | ", Methods.Select(m => $"{m} kept (worst depth) | ratio")) + " |");
        Console.WriteLine("| ---: | ---: | " + string.Join(" | ", Methods.Select(_ => "---: | ---:")) + " |");
        foreach (int length in lengths)
        {
            foreach (double rate in rates)
            {
                var cells = new List<string>();
                foreach (string method in Methods)
                {
                    var rows = depths.Select(d => kept[(length, d, rate, method)]).ToList();
                    var worst = rows.OrderBy(r => (double)r.Kept / r.Total).First();
                    cells.Add(string.Create(CultureInfo.InvariantCulture, $"{rows.Sum(r => r.Kept)}/{rows.Sum(r => r.Total)} ({worst.Kept}/{worst.Total}) | {rows.Sum(r => r.RatioSum) / rows.Sum(r => r.Total):0.000}"));
                }

                Console.WriteLine($"| {length} | {RateLabel(rate)} | {string.Join(" | ", cells)} |");
            }
        }

        Console.WriteLine();
        Console.WriteLine("ours-question per depth (K/N at each depth):");
        Console.WriteLine();
        Console.WriteLine("| tokens | rate | " + string.Join(" | ", depths.Select(d => $"{d}%")) + " |");
        Console.WriteLine("| ---: | ---: | " + string.Join(" | ", depths.Select(_ => "---:")) + " |");
        foreach (int length in lengths)
        {
            foreach (double rate in rates)
            {
                Console.WriteLine($"| {length} | {RateLabel(rate)} | {string.Join(" | ", depths.Select(d => { var c = kept[(length, d, rate, "ours-question")]; return $"{c.Kept}/{c.Total}"; }))} |");
            }
        }

        Console.WriteLine();
        Console.WriteLine("Time per 1,000 input tokens, medians over the calls of a cell: process CPU ms (what the compression costs, whatever else runs on the machine) / wall ms (includes waiting for a core on a shared machine).");
        Console.WriteLine();
        Console.WriteLine("| tokens | method | " + string.Join(" | ", rates.Select(r => $"{RateLabel(r)} CPU / wall")) + " |");
        Console.WriteLine("| ---: | --- | " + string.Join(" | ", rates.Select(_ => "---:")) + " |");
        foreach (int length in lengths)
        {
            foreach (string method in Methods.Take(2))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {length} | {method} | {string.Join(" | ", rates.Select(r => $"{Median(cpuPer1K[(length, method, r)]):0.0} / {Median(wallPer1K[(length, method, r)]):0.0}"))} |"));
            }
        }

        return 0;
    }

    private static int[] Ints(string csv) => csv.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Filler sentences drawn at random (with replacement) until the haystack, passkey line included, has <paramref name="tokens"/> tokens; the line sits at <paramref name="depth"/>% of the sentences.</summary>
    private static string Haystack(PromptCompressor counter, string[] pool, string line, int tokens, int depth, Random rng)
    {
        // A sentence's tokens inside the text: counted after an anchor word, so BOS and the first word's prefix cancel.
        int anchor = counter.CountTokens("x");
        int InText(string sentence) => counter.CountTokens("x " + sentence) - anchor;
        int lineTokens = InText(line);
        var sentences = new List<string>();
        int total = 1; // BOS
        while (total + lineTokens < tokens)
        {
            string sentence = pool[rng.Next(pool.Length)];
            sentences.Add(sentence);
            total += InText(sentence);
        }

        int last = sentences.Count > 1 ? InText(sentences[^1]) : 0;
        if (sentences.Count > 1 && total + lineTokens - tokens > tokens - (total + lineTokens - last))
        {
            sentences.RemoveAt(sentences.Count - 1); // whichever of with or without the last sentence is closer to the length
        }

        sentences.Insert((int)Math.Round(depth / 100.0 * sentences.Count), line);
        return string.Join(' ', sentences);
    }

    private static string RandomDrop(ITokenScorer scorer, int[] ids, double rate, Random rng)
    {
        int keep = (int)Math.Round(rate * ids.Length);
        int[] chosen = Enumerable.Range(0, ids.Length).OrderBy(_ => rng.Next()).Take(keep).Order().ToArray();
        return scorer.Tokenizer.Decode(chosen.Select(i => ids[i])) ?? string.Empty;
    }

    private static string Truncate(ITokenScorer scorer, int[] ids, double rate)
    {
        int keep = (int)Math.Round(rate * ids.Length);
        return scorer.Tokenizer.Decode(ids[^keep..]) ?? string.Empty;
    }

    internal static string[] ReviewSentences(string shared) =>
        new[] { "yelp_labelled.txt", "amazon_cells_labelled.txt" }
            .SelectMany(file => File.ReadAllLines(Path.Combine(shared, "datasets", "sentiment-sentences", file)))
            .Select(line => line.Split('\t')[0].Trim())
            .Where(line => line.Length > 0)
            .ToArray();

    /// <summary>TinyStories-like sentences: stories sampled from stories260K (temperature 1, one seed per story), split at sentence ends, digits-free.</summary>
    internal static async Task<string[]> StorySentencesAsync(OnnxGenAIModel model, int tokens, CancellationToken cancellationToken)
    {
        var sentences = new List<string>();
        int total = 0;
        for (int seed = 1; total < tokens; seed++)
        {
            GenerationResult story = await model.GenerateAsync("Once upon a time", new GenerationOptions { MaxNewTokens = 400, Temperature = 1, Seed = seed }, cancellationToken);
            string text = ("Once upon a time" + story.Text).Replace('\n', ' ');
            foreach (string sentence in Regex.Split(text, @"(?<=[.!?][""']?)\s+"))
            {
                string trimmed = sentence.Trim();
                if (trimmed.Length >= 8 && char.IsUpper(trimmed[0]) && trimmed[^1] is '.' or '!' or '?' or '"')
                {
                    sentences.Add(trimmed);
                    total += model.Tokenizer.CountTokens(trimmed);
                }
            }
        }

        return [.. sentences.Distinct(StringComparer.Ordinal)];
    }
}
