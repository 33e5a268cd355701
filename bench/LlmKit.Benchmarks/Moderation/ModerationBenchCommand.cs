using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Plugins.Moderation;
using LlmKit.Benchmarks.Embeddings;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;

namespace LlmKit.Benchmarks.Moderation;

/// <summary>
/// <c>moderation --in PATH --out FILE [--train-fraction 0.2] [--seed 42] [--model FOLDER|none] [--injection FILE] [--domain TEXT] [--embeddings hashing|minilm|DIR]</c>:
/// trains each domain path on a seeded fraction of in-domain and off-domain texts and reports, on the rest,
/// off-domain recall, in-domain false-positive rate, AUROC and milliseconds per check; then injection recall and
/// false-positive rate on a labelled injection set.
/// </summary>
internal sealed class ModerationBenchCommand : IBenchCommand
{
    public string Name => "moderation";

    public string Summary => "Domain moderation: recall / FPR / AUROC / ms per check for each path (--in, --out, --train-fraction, --seed, --model, --injection, --embeddings).";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = BenchOptions.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine("usage: moderation --in PATH --out FILE [--train-fraction 0.2] [--seed 42] [--model FOLDER|none] [--injection FILE] [--domain TEXT] [--embeddings hashing|minilm|DIR]");
            Console.Error.WriteLine("  " + BenchEmbeddings.Usage);
            Console.Error.WriteLine("  --in: the sentiment-sentences folder (yelp = in-domain, amazon = off-domain) or a TSV 'text<TAB>label' (label in/off or 0/1, 1 = off-domain)");
            Console.Error.WriteLine("  --model: an ONNX GenAI folder for the constrained verdict and perplexity heuristics; default converts ../shared/models/stories260K; 'none' skips");
            Console.Error.WriteLine("  --injection: a TSV 'label<TAB>category<TAB>text' (label 1 = injection) or 'text<TAB>label'; default: the test suite's injection-suite.tsv");
            return 2;
        }

        var (inDomain, offDomain) = DomainData.Load(options.Input);
        var (inTrain, inTest) = DomainData.Split(inDomain, options.TrainFraction, options.Seed);
        var (offTrain, offTest) = DomainData.Split(offDomain, options.TrainFraction, options.Seed + 1);
        var report = new StringBuilder();
        report.AppendLine("# Moderation benchmark").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project bench/LlmKit.Benchmarks -- moderation {string.Join(' ', args)}`").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Data: {options.Input} — in-domain {inDomain.Count} ({inTrain.Count} train / {inTest.Count} test), off-domain {offDomain.Count} ({offTrain.Count} train / {offTest.Count} test); seed {options.Seed}; domain \"{options.Domain}\".");
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average at start {load} (other jobs share the machine: timings are upper bounds). One check at a time; ms per check is the mean wall time of a full `CheckAsync` call after warm-up (training excluded).").AppendLine();
        report.AppendLine("Recall and FPR are at the default threshold 0.5. \"Recall @ FPR≤0.05\" reads the ROC curve of the same test scores (a property of the score, not a tuned operating point).").AppendLine();
        report.AppendLine("CPU ms is the process's processor time per check over the same pass: on a shared machine it is closer to what an idle one would take than the wall time.").AppendLine();
        report.AppendLine("| path | off-domain recall | in-domain FPR | AUROC | recall @ FPR≤0.05 | ms / check | CPU ms / check | warm-up s |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

        using var model = LoadModel(options.Model);
        ITokenScorer? scorer = model is null ? null : new OnnxTokenScorer(model);
        using var encoder = BenchEmbeddings.Create(options.Embeddings);
        IEmbeddingGenerator<string, Embedding<float>>? embeddings = encoder;
        string embeddingName = BenchEmbeddings.Describe(embeddings, "hashing");
        report.Insert(report.ToString().IndexOf("| path |", StringComparison.Ordinal),
            $"Embedding generator of the embedding rows: {BenchEmbeddings.Describe(embeddings, "LlmKit's hashing generator (the moderator's default: 16,384 buckets, words + character n-grams)")}.\n\n");
        var runs = new List<(string Name, DomainCheckMode Mode, ITokenScorer? Scorer, bool Injection)>();
        if (options.Hashing is { } hashing)
        {
            var custom = new DomainModerator(
                new ModerationOptions { Domain = options.Domain, InDomainExamples = inTrain, OffDomainExamples = offTrain, DomainMode = DomainCheckMode.Embedding, DetectInjection = false },
                new LlmKit.Embeddings.HashingEmbeddingGenerator(hashing));
            var (line, _, _) = await EvaluateDomainAsync($"embedding classifier ({hashing})", custom, inTest, offTest, cancellationToken);
            report.AppendLine(line);
            Console.WriteLine(line);
        }

        runs.AddRange(new List<(string Name, DomainCheckMode Mode, ITokenScorer? Scorer, bool Injection)>
        {
            ($"embedding classifier ({embeddingName}, LR)", DomainCheckMode.Embedding, null, false),
            ("embedding classifier + injection heuristics (default pipeline)", DomainCheckMode.Embedding, null, true),
        });
        if (scorer is not null)
        {
            runs.Add(("constrained verdict (stories260K, calibrated)", DomainCheckMode.Verdict, scorer, false));
            runs.Add(("both (mean of embedding and verdict)", DomainCheckMode.Both, scorer, false));
        }

        foreach (var (name, mode, runScorer, injection) in runs)
        {
            var moderator = new DomainModerator(
                new ModerationOptions
                {
                    Domain = options.Domain,
                    InDomainExamples = inTrain,
                    OffDomainExamples = offTrain,
                    DomainMode = mode,
                    DetectInjection = injection,
                },
                embeddings,
                scorer: runScorer);
            var (line, recallAtFpr, auroc) = await EvaluateDomainAsync(name, moderator, inTest, offTest, cancellationToken);
            report.AppendLine(line);
            Console.WriteLine(line);
            if (mode == DomainCheckMode.Embedding && !injection)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"off-domain recall at FPR<=0.05: {recallAtFpr:0.000} (AUROC {auroc:0.000}) [{embeddingName}]"));
            }
        }

        string reference = NaiveBayesRow(inTrain, offTrain, inTest, offTest);
        report.AppendLine(reference);
        Console.WriteLine(reference);
        report.AppendLine().AppendLine(await LongTextLatencyAsync(options.Domain, inTrain, offTrain, inTest, cancellationToken));
        if (scorer is not null)
        {
            report.AppendLine().AppendLine(await VerdictLatencyAsync(scorer, options.Domain, inTrain, offTrain, cancellationToken));
        }

        report.AppendLine().AppendLine(await InjectionReportAsync(options, scorer, inTrain, offTrain, inTest, cancellationToken));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Output))!);
        // A hand-written reading of an earlier run (a section headed "## Reading the figures") is kept below the new figures.
        const string ReadingHeading = "## Reading the figures";
        string previous = File.Exists(options.Output) ? await File.ReadAllTextAsync(options.Output, cancellationToken) : string.Empty;
        int reading = previous.IndexOf(ReadingHeading, StringComparison.Ordinal);
        if (reading >= 0)
        {
            report.AppendLine().Append(previous[reading..]);
        }

        await File.WriteAllTextAsync(options.Output, report.ToString(), cancellationToken);
        Console.WriteLine($"wrote {options.Output}");
        return 0;
    }

    private static async Task<(string Line, double RecallAtFpr, double Auroc)> EvaluateDomainAsync(string name, DomainModerator moderator, List<string> inTest, List<string> offTest, CancellationToken cancellationToken)
    {
        long warmStart = Stopwatch.GetTimestamp();
        await moderator.WarmUpAsync(cancellationToken);
        double warmUp = Stopwatch.GetElapsedTime(warmStart).TotalSeconds;
        var scores = new List<(double Score, bool Off)>();
        int falsePositives = 0, caught = 0;
        long start = Stopwatch.GetTimestamp();
        foreach (var (texts, off) in new[] { (inTest, false), (offTest, true) })
        {
            foreach (var text in texts)
            {
                var result = await moderator.CheckInputAsync(text, cancellationToken);

                // A text blocked as injection counts as blocked; its domain score is then unknown, so rank it as certain off-domain.
                double score = result.Category == ModerationCategory.Injection ? 1 : result.Score;
                scores.Add((score, off));
                if (!result.Allowed)
                {
                    if (off) caught++;
                    else falsePositives++;
                }
            }
        }

        // Time a second pass, so first-use costs (JIT, pattern compilation) do not count.
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        start = Stopwatch.GetTimestamp();
        foreach (var text in inTest.Concat(offTest))
        {
            await moderator.CheckInputAsync(text, cancellationToken);
        }

        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / (inTest.Count + offTest.Count);
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMilliseconds / (inTest.Count + offTest.Count);
        var roc = Roc.Of(scores);
        return (string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {caught / (double)offTest.Count:0.000} | {falsePositives / (double)inTest.Count:0.000} | {roc.Auroc:0.000} | {roc.RecallAtFpr(0.05):0.000} | {ms:0.000} | {cpuMs:0.000} | {warmUp:0.0} |"),
            roc.RecallAtFpr(0.05), roc.Auroc);
    }

    /// <summary>The naive Bayes reference learner on the same split, scored like the paths (log-odds 0 = threshold 0.5).</summary>
    private static string NaiveBayesRow(List<string> inTrain, List<string> offTrain, List<string> inTest, List<string> offTest)
    {
        var model = new NaiveBayesReference(inTrain, offTrain);
        var scores = inTest.Select(t => (model.OffDomainLogOdds(t), false)).Concat(offTest.Select(t => (model.OffDomainLogOdds(t), true))).ToList();
        double recall = scores.Count(s => s.Item2 && s.Item1 > 0) / (double)offTest.Count;
        double fpr = scores.Count(s => !s.Item2 && s.Item1 > 0) / (double)inTest.Count;
        var roc = Roc.Of(scores);
        return string.Create(CultureInfo.InvariantCulture,
            $"| reference only, not a moderator path: naive Bayes (words, bigrams, 5-letter prefixes) | {recall:0.000} | {fpr:0.000} | {roc.Auroc:0.000} | {roc.RecallAtFpr(0.05):0.000} | | | |");
    }

    /// <summary>
    /// One check of a long message through the default pipeline (injection heuristics over all of it, the embedding
    /// classifier over MaxScoredCharacters): the timing the unit tests leave to this benchmark (they count the work).
    /// </summary>
    private static async Task<string> LongTextLatencyAsync(string domain, List<string> inTrain, List<string> offTrain, List<string> inTest, CancellationToken cancellationToken)
    {
        var moderator = new DomainModerator(new ModerationOptions { Domain = domain, InDomainExamples = inTrain, OffDomainExamples = offTrain, DomainMode = DomainCheckMode.Embedding });
        await moderator.WarmUpAsync(cancellationToken);
        string paragraph = string.Join(' ', inTest.Take(50)) + " ";
        var lines = new StringBuilder();
        lines.AppendLine("Long messages, default pipeline (heuristics over the whole text, classifier over `MaxScoredCharacters`), best of 3 checks after one warm-up check:").AppendLine();
        foreach (int characters in new[] { 100_000, 1_048_576 })
        {
            var text = new StringBuilder(characters + paragraph.Length);
            while (text.Length < characters)
            {
                text.Append(paragraph);
            }

            string message = text.ToString(0, characters);
            await moderator.CheckInputAsync(message, cancellationToken);
            double best = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await moderator.CheckInputAsync(message, cancellationToken);
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            lines.AppendLine(CultureInfo.InvariantCulture, $"- {characters:N0} characters: {best:0} ms");
        }

        return lines.ToString();
    }

    private static async Task<string> VerdictLatencyAsync(ITokenScorer scorer, string domain, List<string> inTrain, List<string> offTrain, CancellationToken cancellationToken)
    {
        // 55 different messages of about 100 tokens: training reviews joined from a different first review each time,
        // cut to 100 tokens of the scorer's tokenizer. Different texts, so prefix reuse can only skip the verdict
        // prompt's fixed part before the message; the same message repeated shows the fully cached case.
        var messages = new List<string>();
        for (int first = 0; messages.Count < 55; first++)
        {
            string message = string.Join(' ', inTrain.Skip(first % inTrain.Count).Concat(inTrain));
            int end = scorer.Tokenizer.GetIndexByTokenCount(message, 100, out _, out _);
            messages.Add(message[..end].TrimEnd());
        }

        int tokens = (int)messages.Average(m => scorer.Tokenizer.CountTokens(m));
        var lines = new StringBuilder();
        lines.AppendLine(CultureInfo.InvariantCulture, $"Constrained-verdict latency, messages of about {tokens} tokens, mean of 50 checks after 5 warm-up checks (prompt-prefix reuse on, the default):").AppendLine();
        foreach (int examples in new[] { 2, 0 })
        {
            var moderator = new DomainModerator(
                new ModerationOptions { Domain = domain, InDomainExamples = inTrain, OffDomainExamples = offTrain, DomainMode = DomainCheckMode.Verdict, DetectInjection = false, VerdictExamplesPerClass = examples },
                scorer: scorer);
            await moderator.WarmUpAsync(cancellationToken);
            foreach ((string label, Func<int, string> pick) in new (string, Func<int, string>)[] { ("50 different messages", i => messages[i]), ("one message 50 times", _ => messages[0]) })
            {
                for (int i = 0; i < 5; i++)
                {
                    await moderator.CheckInputAsync(pick(50 + i), cancellationToken);
                }

                const int runs = 50;
                var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < runs; i++)
                {
                    await moderator.CheckInputAsync(pick(i), cancellationToken);
                }

                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / runs;
                double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMilliseconds / runs;
                lines.AppendLine(CultureInfo.InvariantCulture, $"- VerdictExamplesPerClass = {examples}, {label}: {ms:0.00} ms wall, {cpuMs:0.00} ms CPU per check");
            }
        }

        return lines.ToString();
    }

    private static async Task<string> InjectionReportAsync(BenchOptions options, ITokenScorer? scorer, List<string> inTrain, List<string> offTrain, List<string> inTest, CancellationToken cancellationToken)
    {
        var rows = InjectionData.Load(options.Injection);
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"## Injection detection ({Path.GetFileName(options.Injection)}: {rows.Count(r => r.Injection)} injections, {rows.Count(r => !r.Injection)} benign)").AppendLine();
        report.AppendLine("| detector | recall | FPR (set's benign) | FPR (in-domain test reviews) | ms / check |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        var configs = new List<(string Name, ITokenScorer? Scorer)> { ("heuristics (normalise + patterns)", null) };
        if (scorer is not null)
        {
            configs.Add(("heuristics + perplexity (stories260K, calibrated)", scorer));
        }

        foreach (var (name, configScorer) in configs)
        {
            var moderator = new DomainModerator(
                new ModerationOptions { DomainMode = DomainCheckMode.None, InDomainExamples = inTrain, OffDomainExamples = offTrain },
                scorer: configScorer);
            await moderator.WarmUpAsync(cancellationToken);
            foreach (var (text, _) in rows)
            {
                await moderator.CheckInputAsync(text, cancellationToken); // first use compiles the patterns
            }

            int tp = 0, fn = 0, fp = 0, tn = 0;
            long start = Stopwatch.GetTimestamp();
            foreach (var (text, injection) in rows)
            {
                bool flagged = !(await moderator.CheckInputAsync(text, cancellationToken)).Allowed;
                if (injection) { if (flagged) tp++; else fn++; }
                else if (flagged) fp++;
                else tn++;
            }

            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / rows.Count;
            int reviewFlags = 0;
            foreach (var text in inTest)
            {
                reviewFlags += (await moderator.CheckInputAsync(text, cancellationToken)).Allowed ? 0 : 1;
            }

            var thresholds = moderator.PerplexityThresholds;
            string note = thresholds is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" (thresholds: length/ppl {thresholds.LengthPerPerplexity:0.##}, prefix/suffix ppl {thresholds.PrefixSuffixPerplexity:0.##})");
            report.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name}{note} | {tp / (double)Math.Max(1, tp + fn):0.000} | {fp / (double)Math.Max(1, fp + tn):0.000} | {reviewFlags / (double)inTest.Count:0.000} | {ms:0.000} |"));
        }

        return report.ToString();
    }

    private static OnnxGenAIModel? LoadModel(string? model)
    {
        if (string.Equals(model, "skip-all", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (string.Equals(model, "none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string folder = model ?? ConvertStories260K();
        return OnnxGenAIModel.Load(folder);
    }

    private static string ConvertStories260K()
    {
        string shared = Environment.GetEnvironmentVariable("LLMKIT_SHARED") ?? Path.Combine(FindRepositoryRoot(), "..", "shared");
        string checkpoint = Path.Combine(shared, "models", "stories260K", "stories260K.bin");
        string tokenizer = Path.Combine(shared, "models", "stories260K", "tok512.bin");
        if (!File.Exists(checkpoint))
        {
            throw new FileNotFoundException($"stories260K not found at '{checkpoint}'; pass --model FOLDER or --model none.", checkpoint);
        }

        string output = Path.Combine(Path.GetTempPath(), "llmkit-bench", "stories260K-moderation");
        Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, output, Force: true));
        return output;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
