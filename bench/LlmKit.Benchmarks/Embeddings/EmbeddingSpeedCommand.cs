using System.Diagnostics;
using System.Globalization;
using LlmKit.Embeddings;

namespace LlmKit.Benchmarks.Embeddings;

/// <summary>
/// <c>embeddings [--embeddings minilm|DIR] [--in DIR] [--runs 300]</c>: load time and working set of a sentence encoder,
/// then its speed on ~17-token review sentences: batch 1 on one thread (ms per sentence), and batches of 32 on one and
/// two threads (sentences per second), plus all 2,000 review sentences of mixed length in one call.
/// </summary>
internal sealed class EmbeddingSpeedCommand : IBenchCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public string Name => "embeddings";

    public string Summary => "sentence-encoder speed: load, working set, ms per ~17-token sentence at batch 1, batched throughput (--embeddings, --in, --runs)";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string spec = BenchArguments.Option(args, "--embeddings", "minilm");
        string input = BenchArguments.Option(args, "--in", DefaultSentencesFolder());
        int runs = int.Parse(BenchArguments.Option(args, "--runs", "300"), Invariant);
        if (spec == "hashing" || runs < 10)
        {
            Console.Error.WriteLine("usage: embeddings [--embeddings minilm|DIR] [--in sentiment-sentences folder] [--runs 300 (>= 10)]");
            return Task.FromResult(2);
        }

        var sentences = File.ReadLines(Path.Combine(input, "yelp_labelled.txt")).Concat(File.ReadLines(Path.Combine(input, "amazon_cells_labelled.txt")))
            .Select(l => l[..Math.Max(0, l.LastIndexOf('\t'))]).Where(s => s.Length > 0).ToArray();

        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        long before = process.WorkingSet64;
        long start = Stopwatch.GetTimestamp();
        using var one = BenchEmbeddings.Create(spec, threads: 1)!;
        double loadSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        GC.Collect();
        process.Refresh();
        long afterLoad = process.WorkingSet64;
        one.Embed(["warm up"], cancellationToken);
        process.Refresh();
        long afterFirst = process.WorkingSet64;

        // Sentences of 15..19 tokens ([CLS] and [SEP] included): a "~17-token sentence".
        var typical = sentences.Where(s => one.CountTokens(s) is >= 15 and <= 19).ToArray();
        double meanTokens = typical.Average(s => one.CountTokens(s));
        Console.WriteLine($"generator: {BenchEmbeddings.Describe(one, spec)}; .NET {Environment.Version}, {Environment.ProcessorCount} cores; load average {LoadAverage()}");
        Console.WriteLine(string.Create(Invariant,
            $"load: {loadSeconds:F2} s (extraction checked by size only); working set {before / 1048576.0:F0} MB before, {afterLoad / 1048576.0:F0} MB after load, {afterFirst / 1048576.0:F0} MB after the first call"));
        Console.WriteLine(string.Create(Invariant, $"sentences: {typical.Length} of {sentences.Length} review sentences have 15-19 tokens (mean {meanTokens:F1})"));
        Console.WriteLine();
        Console.WriteLine("CPU ms is the process's processor time over the same calls: on a shared machine it is closer to an idle machine's wall time.");
        Console.WriteLine();
        Console.WriteLine("| case | threads | batch | ms per sentence (mean) | ms per sentence (median) | CPU ms per sentence | sentences / s |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");

        // Batch 1, one thread.
        for (int i = 0; i < 30; i++)
        {
            one.Embed([typical[i % typical.Length]], cancellationToken);
        }

        var times = new double[runs];
        var cpu = CurrentCpu(process);
        for (int i = 0; i < runs; i++)
        {
            long t = Stopwatch.GetTimestamp();
            one.Embed([typical[i % typical.Length]], cancellationToken);
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }

        Console.WriteLine(Row("~17 tokens", 1, 1, times.Average(), BenchArguments.Median(times), CpuMs(process, cpu, runs), 1000 / times.Average()));

        using var two = BenchEmbeddings.Create(spec, threads: 2)!;
        foreach (var (generator, threads) in new[] { (one, 1), (two, 2) })
        {
            const int batch = 32;
            var batches = Enumerable.Range(0, Math.Max(5, runs / batch)).Select(b => Enumerable.Range(0, batch).Select(i => typical[((b * batch) + i) % typical.Length]).ToArray()).ToArray();
            generator.Embed(batches[0], cancellationToken);
            var perSentence = new double[batches.Length];
            cpu = CurrentCpu(process);
            for (int b = 0; b < batches.Length; b++)
            {
                long t = Stopwatch.GetTimestamp();
                generator.Embed(batches[b], cancellationToken);
                perSentence[b] = Stopwatch.GetElapsedTime(t).TotalMilliseconds / batch;
            }

            Console.WriteLine(Row("~17 tokens", threads, batch, perSentence.Average(), BenchArguments.Median(perSentence), CpuMs(process, cpu, batches.Length * batch), 1000 / perSentence.Average()));
        }

        foreach (var (generator, threads) in new[] { (one, 1), (two, 2) })
        {
            cpu = CurrentCpu(process);
            long t = Stopwatch.GetTimestamp();
            generator.Embed(sentences, cancellationToken);
            double ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds / sentences.Length;
            Console.WriteLine(Row($"all {sentences.Length} reviews, mixed length, sorted into batches", threads, 32, ms, double.NaN, CpuMs(process, cpu, sentences.Length), 1000 / ms));
        }

        return Task.FromResult(0);
    }

    private static string Row(string name, int threads, int batch, double mean, double median, double cpuMs, double perSecond) =>
        string.Create(Invariant, $"| {name} | {threads} | {batch} | {mean:F2} | {(double.IsNaN(median) ? "—" : median.ToString("F2", Invariant))} | {cpuMs:F2} | {perSecond:F0} |");

    private static TimeSpan CurrentCpu(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    private static double CpuMs(Process process, TimeSpan start, int sentences) => (CurrentCpu(process) - start).TotalMilliseconds / sentences;

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

    private static string DefaultSentencesFolder()
    {
        string? shared = Environment.GetEnvironmentVariable("LLMKIT_SHARED");
        if (string.IsNullOrEmpty(shared))
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
                {
                    shared = Path.Combine(dir.FullName, "..", "shared");
                    break;
                }
            }
        }

        return Path.GetFullPath(Path.Combine(shared ?? Path.Combine("..", "shared"), "datasets", "sentiment-sentences"));
    }
}
