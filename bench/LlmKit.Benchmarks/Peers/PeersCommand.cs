using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Benchmarks.Runtime;
using LlmKit.ModelBuilder;

namespace LlmKit.Benchmarks.Peers;

/// <summary>
/// LlmKit against onnxruntime-genai 0.20.0 on the same ONNX GenAI folders: prefill and decode speed, each engine in
/// a process of its own (a <c>peers-worker</c> child), alternating engine by engine every round so that drift on this
/// shared machine hits both alike. Prints one table per thread count and a ratio line per row.
/// </summary>
internal sealed class PeersCommand : IBenchCommand
{
    private static readonly string[] Engines = ["llmkit", "ortgenai"];

    public string Name => "peers";

    public string Summary => "LlmKit vs onnxruntime-genai on the same folders, one process per engine, alternating rounds [--models stories,110m,110m-int4] [--threads 1,2] [--prompt-tokens 64] [--decode-tokens 128] [--rounds 5]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "stories,110m,110m-int4").Split(',');
        var threads = Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        string promptTokens = Option(args, "--prompt-tokens", "64");
        string decodeTokens = Option(args, "--decode-tokens", "128");
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);

        Console.WriteLine($"# peers {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores; prompt {promptTokens} tokens, {decodeTokens} greedy decode steps, medians of {rounds} rounds");
        var ratios = new List<string>();
        foreach (int t in threads)
        {
            Console.WriteLine();
            Console.WriteLine($"## {t} thread{(t == 1 ? "" : "s")}");
            Console.WriteLine("| model | engine | prefill ms | decode tok/s |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var name in models)
            {
                string folder = FolderFor(name);
                var prefill = Engines.ToDictionary(e => e, _ => new List<double>());
                var decode = Engines.ToDictionary(e => e, _ => new List<double>());
                for (int r = 0; r < rounds; r++)
                {
                    // Alternate which engine goes first, so neither always runs on a warmer (or busier) machine.
                    foreach (var engine in r % 2 == 0 ? Engines : Engines.Reverse())
                    {
                        var (p, d) = await RunWorkerAsync(engine, folder, t, promptTokens, decodeTokens, cancellationToken);
                        prefill[engine].Add(p);
                        decode[engine].Add(d);
                    }
                }

                foreach (var engine in Engines)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {engine} | {Median(prefill[engine]):F1} | {Median(decode[engine]):F1} |"));
                }

                ratios.Add(string.Create(CultureInfo.InvariantCulture,
                    $"ratio decode {name}-t{t} llmkit/ortgenai={Median(decode["llmkit"]) / Median(decode["ortgenai"]):F3}   ratio prefill-time {name}-t{t} llmkit/ortgenai={Median(prefill["llmkit"]) / Median(prefill["ortgenai"]):F3}"));
            }
        }

        Console.WriteLine();
        ratios.ForEach(Console.WriteLine);
        return 0;
    }

    private static string FolderFor(string name) => name switch
    {
        "stories" => BenchModels.Stories260K(OnnxGraphForm.OrtGenAI),
        "110m" => BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.OrtGenAI),
        "110m-int4" => BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.OrtGenAI, WeightPrecision.Int4),
        _ => throw new ArgumentException($"unknown model '{name}' (stories, 110m, 110m-int4)"),
    };

    private static async Task<(double PrefillMs, double DecodeTokensPerSecond)> RunWorkerAsync(
        string engine, string folder, int threads, string promptTokens, string decodeTokens, CancellationToken cancellationToken)
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

        foreach (var arg in new[] { "peers-worker", "--engine", engine, "--folder", folder, "--threads", threads.ToString(CultureInfo.InvariantCulture), "--prompt-tokens", promptTokens, "--decode-tokens", decodeTokens })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        string errors = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"peers-worker {engine} failed ({process.ExitCode}): {errors}");
        }

        var fields = output.Trim().Split(' ');
        return (double.Parse(fields[0], CultureInfo.InvariantCulture), double.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}
