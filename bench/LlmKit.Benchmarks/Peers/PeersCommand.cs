using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Benchmarks.Runtime;
using LlmKit.ModelBuilder;

namespace LlmKit.Benchmarks.Peers;

/// <summary>
/// LlmKit against its peers on the same weights: onnxruntime-genai 0.20.0 on the same ONNX GenAI folders, and llama.cpp
/// (LLamaSharp 0.30.0) on GGUF files written from the same llama2.c checkpoints (F32 for fp32 rows; Q4_0 and Q8_0 for
/// the int4 row). Prefill and decode speed, each engine in a process of its own (a <c>peers-worker</c> child),
/// alternating the engine order every round so that drift on this shared machine hits all alike. First checks that
/// llama.cpp's greedy ids on each F32 GGUF equal LlmKit's on the converted folder. Prints one table per thread count
/// and a ratio line per row.
/// </summary>
internal sealed class PeersCommand : IBenchCommand
{
    public string Name => "peers";

    public string Summary => "LlmKit vs onnxruntime-genai (same folders) and llama.cpp (GGUF of the same weights), one process per engine, alternating rounds [--models stories,110m,110m-int4] [--threads 1,2] [--prompt-tokens 64] [--decode-tokens 128] [--rounds 5] [--no-check]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "stories,110m,110m-int4").Split(',');
        var threads = Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        string promptTokens = Option(args, "--prompt-tokens", "64");
        string decodeTokens = Option(args, "--decode-tokens", "128");
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        var rows = models.Select(RowFor).ToArray();

        Console.WriteLine($"# peers {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores; prompt {promptTokens} tokens, {decodeTokens} greedy decode steps, medians of {rounds} rounds");
        if (Array.IndexOf(args, "--no-check") < 0)
        {
            Console.WriteLine();
            foreach (var row in rows)
            {
                var f32 = row.Runs.FirstOrDefault(r => r.Label == "llama.cpp F32");
                if (f32 is not null)
                {
                    await CheckGreedyIdsAsync(row, f32.Gguf!, promptTokens, decodeTokens, cancellationToken);
                }
            }
        }

        var ratios = new List<string>();
        foreach (int t in threads)
        {
            Console.WriteLine();
            Console.WriteLine($"## {t} thread{(t == 1 ? "" : "s")}");
            Console.WriteLine("| model | engine | prefill ms | decode tok/s |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var row in rows)
            {
                var prefill = row.Runs.ToDictionary(e => e.Label, _ => new List<double>());
                var decode = row.Runs.ToDictionary(e => e.Label, _ => new List<double>());
                for (int r = 0; r < rounds; r++)
                {
                    // Alternate the engine order, so no engine always runs on a warmer (or busier) machine.
                    foreach (var run in r % 2 == 0 ? row.Runs : row.Runs.Reverse())
                    {
                        var (p, d) = await RunWorkerAsync(run, row.Folder, t, promptTokens, decodeTokens, cancellationToken);
                        prefill[run.Label].Add(p);
                        decode[run.Label].Add(d);
                    }
                }

                foreach (var run in row.Runs)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row.Name} | {run.Label} | {Median(prefill[run.Label]):F1} | {Median(decode[run.Label]):F1} |"));
                }

                double llmkit = Median(decode["llmkit"]);
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"ratio decode {row.Name}-t{t} llmkit/ortgenai={llmkit / Median(decode["ortgenai"]):F3} llmkit/llamacpp={llmkit / Median(decode[row.LlamaCppHeadline]):F3}");
                foreach (var other in row.Runs.Where(r => r.Engine == "llamacpp" && r.Label != row.LlamaCppHeadline))
                {
                    line += string.Create(CultureInfo.InvariantCulture, $" llmkit/llamacpp-{other.Label["llama.cpp ".Length..]}={llmkit / Median(decode[other.Label]):F3}");
                }

                line += string.Create(CultureInfo.InvariantCulture,
                    $"   prefill-time llmkit/ortgenai={Median(prefill["llmkit"]) / Median(prefill["ortgenai"]):F3} llmkit/llamacpp={Median(prefill["llmkit"]) / Median(prefill[row.LlamaCppHeadline]):F3}");
                ratios.Add(line);
            }
        }

        Console.WriteLine();
        ratios.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>One engine run of a row: the label printed, the worker's engine, and the GGUF file for llama.cpp.</summary>
    private sealed record EngineRun(string Label, string Engine, string? Gguf = null);

    /// <summary>A model row: the ONNX folder (LlmKit, onnxruntime-genai; also the prompt's vocabulary), its engine runs,
    /// and the llama.cpp run the llmkit/llamacpp ratio uses.</summary>
    private sealed record Row(string Name, string Folder, EngineRun[] Runs, string LlamaCppHeadline);

    private static Row RowFor(string name)
    {
        var c = BenchModels.Synthetic110M;
        return name switch
        {
            // stories260K: F32 only (its 172-wide feed-forward cannot be cut into 32-wide quantisation blocks).
            "stories" => Row(name, BenchModels.Stories260K(OnnxGraphForm.OrtGenAI), ("F32", BenchModels.Stories260KGguf(GgufWeights.F32))),
            "110m" => Row(name, BenchModels.Synthetic(c, seed: 110, OnnxGraphForm.OrtGenAI), ("F32", BenchModels.SyntheticGguf(c, 110, GgufWeights.F32))),
            "110m-int4" => Row(name, BenchModels.Synthetic(c, seed: 110, OnnxGraphForm.OrtGenAI, WeightPrecision.Int4),
                ("Q4_0", BenchModels.SyntheticGguf(c, 110, GgufWeights.Q4_0)), ("Q8_0", BenchModels.SyntheticGguf(c, 110, GgufWeights.Q8_0))),
            _ => throw new ArgumentException($"unknown model '{name}' (stories, 110m, 110m-int4)"),
        };

        static Row Row(string name, string folder, params (string Weights, string Gguf)[] gguf)
        {
            var runs = new List<EngineRun> { new("llmkit", "llmkit"), new("ortgenai", "ortgenai") };
            runs.AddRange(gguf.Select(g => new EngineRun($"llama.cpp {g.Weights}", "llamacpp", g.Gguf)));
            return new Row(name, folder, [.. runs], $"llama.cpp {gguf[0].Weights}");
        }
    }

    /// <summary>Correctness before speed: llama.cpp's greedy ids on the F32 GGUF against LlmKit's on the folder, same prompt.</summary>
    private static async Task CheckGreedyIdsAsync(Row row, string gguf, string promptTokens, string decodeTokens, CancellationToken cancellationToken)
    {
        var llmkit = ParseIds(await RunAsync(["peers-worker", "--engine", "llmkit", "--folder", row.Folder, "--threads", "1", "--prompt-tokens", promptTokens, "--decode-tokens", decodeTokens, "--print-ids"], cancellationToken));
        var llamacpp = ParseIds(await RunAsync(["peers-worker", "--engine", "llamacpp", "--folder", row.Folder, "--gguf", gguf, "--threads", "1", "--prompt-tokens", promptTokens, "--decode-tokens", decodeTokens, "--print-ids"], cancellationToken));
        int same = 0;
        while (same < Math.Min(llmkit.Length, llamacpp.Length) && llmkit[same] == llamacpp[same])
        {
            same++;
        }

        Console.WriteLine(same == llmkit.Length && llmkit.Length == llamacpp.Length
            ? $"check {row.Name}: greedy ids identical, LlmKit (ONNX folder) vs llama.cpp (F32 GGUF), {same} ids after a {promptTokens}-token prompt"
            : $"check {row.Name}: greedy ids DIFFER at step {same} of {llmkit.Length} (LlmKit {llmkit[same]}, llama.cpp {llamacpp[same]})");

        static int[] ParseIds(string output) => output.Trim().Split(' ').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }

    private static async Task<(double PrefillMs, double DecodeTokensPerSecond)> RunWorkerAsync(
        EngineRun run, string folder, int threads, string promptTokens, string decodeTokens, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "peers-worker", "--engine", run.Engine, "--folder", folder, "--threads", threads.ToString(CultureInfo.InvariantCulture), "--prompt-tokens", promptTokens, "--decode-tokens", decodeTokens };
        if (run.Gguf is not null)
        {
            arguments.AddRange(["--gguf", run.Gguf]);
        }

        var fields = (await RunAsync(arguments, cancellationToken)).Trim().Split(' ');
        return (double.Parse(fields[0], CultureInfo.InvariantCulture), double.Parse(fields[1], CultureInfo.InvariantCulture));
    }

    private static async Task<string> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!Environment.ProcessPath!.EndsWith("LlmKit.Benchmarks", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(PeersCommand).Assembly.Location); // running under the dotnet host
        }

        foreach (var arg in arguments)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var errorsTask = process.StandardError.ReadToEndAsync(cancellationToken);
        string output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        string errors = await errorsTask;
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', arguments)} failed ({process.ExitCode}): {errors}");
        }

        foreach (var line in errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Console.Error.WriteLine(line); // e.g. llama.cpp's end-of-sequence note
        }

        return output;
    }
}
