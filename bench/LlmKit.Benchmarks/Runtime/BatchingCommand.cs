using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.ModelBuilder;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// <c>batching</c>: N concurrent streams on one model, with batched decoding on (<see cref="OnnxGenAIModelOptions.MaxBatchSize"/>
/// 8) and off (1: N independent generations on the thread pool, as before), through the public streaming API. Both
/// models are loaded from the same folder and measured alternately in one run. Per stream count it reports the aggregate
/// decode rate (tokens after each stream's first, over the time from the first stream's first token to the last
/// stream's end), the per-stream p50 of the time between tokens and of the time to first token, and whether every
/// stream produced the same tokens with batching on and off. With <c>--constraint json</c> every stream is constrained to
/// JSON (<see cref="OutputConstraint.Json"/>; the budget-aware mask closes it by the token limit), so the masks' cost on
/// the scheduler thread is part of what is measured.
/// </summary>
internal sealed class BatchingCommand : IBenchCommand
{
    public string Name => "batching";

    public string Summary => "batched serving: aggregate decode tok/s and per-stream p50 latency for N concurrent streams, batching on vs off [--model 110m-int4|110m|stories|DIR] [--streams 1,2,4,8] [--threads 2] [--prompt-tokens 32] [--tokens 128] [--rounds 3] [--constraint none|json]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string name = Option(args, "--model", "110m-int4");
        int[] streams = [.. Option(args, "--streams", "1,2,4,8").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
        int threads = int.Parse(Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        int promptTokens = int.Parse(Option(args, "--prompt-tokens", "32"), CultureInfo.InvariantCulture);
        int tokens = int.Parse(Option(args, "--tokens", "128"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "3"), CultureInfo.InvariantCulture);
        string constraintName = Option(args, "--constraint", "none");
        OutputConstraint? constraint = constraintName switch
        {
            "none" => null,
            "json" => OutputConstraint.Json(),
            _ => throw new ArgumentException($"--constraint: expected none or json; got '{constraintName}'."),
        };
        int maxBatch = streams.Max();

        string folder = name switch
        {
            "110m-int4" => BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.OrtGenAI, WeightPrecision.Int4),
            "110m" => BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.OrtGenAI),
            "stories" => BenchModels.Stories260K(OnnxGraphForm.OrtGenAI),
            _ when Directory.Exists(name) => name, // any official-form folder, e.g. one converted with another int4 accuracy level
            _ => throw new ArgumentException($"--model: expected 110m-int4, 110m, stories or an existing folder; got '{name}'."),
        };

        // Prefix reuse off in both: every round prefills its prompts in full, so on and off do the same work.
        using var on = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, MaxBatchSize = maxBatch, ReusePromptPrefixes = false });
        using var off = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, MaxBatchSize = 1, ReusePromptPrefixes = false });
        if (on.MaxBatchSize < maxBatch)
        {
            Console.Error.WriteLine($"The model batches at most {on.MaxBatchSize} streams (graph form or memory); the larger counts queue.");
        }

        var random = new Random(16);
        int[][] prompts = [.. Enumerable.Range(0, maxBatch).Select(_ => (int[])[1, .. Enumerable.Range(0, promptTokens - 1).Select(_ => random.Next(3, on.VocabularySize))])];
        // Unconstrained streams are held to the full length; a constrained one may end when its JSON is complete (a
        // min length would mask the end of sequence the finished value needs), so the counts can differ per stream.
        var options = constraint is null
            ? new GenerationOptions { Temperature = 0, MaxNewTokens = tokens, MinNewTokens = tokens }
            : new GenerationOptions { Temperature = 0, MaxNewTokens = tokens, Constraint = constraint };

        Console.WriteLine($"# batching — {name} (official GQA form), {threads} intra-op thread(s), greedy, constraint {constraintName}, {promptTokens}-token prompts, {tokens} new tokens per stream, {rounds} rounds (off/on alternating), {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        Console.WriteLine("| streams | identical | off: aggregate decode tok/s | on: aggregate decode tok/s | on / off | on / 1-stream off | off: p50 ms between tokens | on: p50 ms between tokens | off: p50 TTFT ms | on: p50 TTFT ms | off: tokens / CPU s | on: tokens / CPU s | on / off (CPU) |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

        // Warm-up: JIT, ORT arenas, the bindings of every batch size.
        await RunRound(off, prompts[..maxBatch], options, cancellationToken);
        await RunRound(on, prompts[..maxBatch], options, cancellationToken);
        double singleOff = 0;
        foreach (int n in streams)
        {
            var offRounds = new List<Round>();
            var onRounds = new List<Round>();
            for (int r = 0; r < rounds; r++)
            {
                offRounds.Add(await RunRound(off, prompts[..n], options, cancellationToken));
                onRounds.Add(await RunRound(on, prompts[..n], options, cancellationToken));
            }

            bool identical = offRounds.Concat(onRounds).All(x => x.Tokens.Zip(offRounds[0].Tokens).All(p => p.First.SequenceEqual(p.Second)));
            double offRate = Median(offRounds.Select(x => x.AggregateDecodeRate));
            double onRate = Median(onRounds.Select(x => x.AggregateDecodeRate));
            double offCpu = Median(offRounds.Select(x => x.TokensPerCpuSecond));
            double onCpu = Median(onRounds.Select(x => x.TokensPerCpuSecond));
            if (n == 1)
            {
                singleOff = offRate;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {n} | {(identical ? "yes" : "NO")} | {offRate:F1} | {onRate:F1} | {onRate / offRate:F2}x | {(singleOff > 0 ? $"{onRate / singleOff:F2}x" : "-")} | {Median(offRounds.Select(x => x.P50Gap)):F2} | {Median(onRounds.Select(x => x.P50Gap)):F2} | {Median(offRounds.Select(x => x.P50FirstToken)):F0} | {Median(onRounds.Select(x => x.P50FirstToken)):F0} | {offCpu:F1} | {onCpu:F1} | {onCpu / offCpu:F2}x |"));
        }

        return 0;
    }

    private static async Task<Round> RunRound(OnnxGenAIModel model, int[][] prompts, GenerationOptions options, CancellationToken cancellationToken)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var streams = await Task.WhenAll(prompts.Select(p => Task.Run(() => Stream(model, p, options, clock, cancellationToken), cancellationToken)));

        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        long allTokens = streams.Sum(s => (long)s.Times.Count);

        // The decode phase: from the first stream's first token to the last stream's last token.
        double start = streams.Min(s => s.Times[0]);
        double end = streams.Max(s => s.Times[^1]);
        long decodeTokens = streams.Sum(s => (long)s.Times.Count - 1);
        var gaps = streams.SelectMany(s => s.Times.Zip(s.Times.Skip(1), (a, b) => b - a)).ToList();
        return new Round(
            [.. streams.Select(s => s.Tokens)],
            decodeTokens / (end - start),
            1000 * Median(gaps),
            1000 * Median(streams.Select(s => s.Times[0])),
            allTokens / cpuSeconds);
    }

    private static async Task<(int[] Tokens, List<double> Times)> Stream(OnnxGenAIModel model, int[] prompt, GenerationOptions options, Stopwatch clock, CancellationToken cancellationToken)
    {
        var tokens = new List<int>();
        var times = new List<double>();
        await foreach (var update in model.GenerateStreamingAsync(prompt, options, cancellationToken))
        {
            tokens.Add(update.TokenId);
            times.Add(clock.Elapsed.TotalSeconds);
        }

        return ([.. tokens], times);
    }

    private sealed record Round(int[][] Tokens, double AggregateDecodeRate, double P50Gap, double P50FirstToken, double TokensPerCpuSecond);
}
