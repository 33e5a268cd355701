using System.Diagnostics;
using System.Globalization;
using LlmKit.ModelBuilder;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.Benchmarks.Builder;

/// <summary>
/// <c>convert-hf</c>: conversion time and peak memory of <c>llmkit convert hf</c> on a synthetic ~500M-parameter
/// Llama checkpoint (bf16, two shards, generated into a temp folder), fp32, fp16 and int4. Each conversion runs in a child
/// process, whose peak resident memory (VmHWM from /proc/self/status) is compared with the largest shard file.
/// </summary>
internal sealed class ConvertHfBenchCommand : IBenchCommand
{
    private const string ChildFlag = "--measure-one";

    // 24 layers of width 1280 (20 heads of 64, 4 KV heads), SwiGLU 3456, vocab 32000, untied: 495M parameters.
    private static readonly HfSyntheticShape Shape = new("LlamaForCausalLM", 1280, 3456, 24, 20, 4, 32000, 2048);

    public string Name => "convert-hf";

    public string Summary => "model builder: synthetic ~500M-parameter HF checkpoint (bf16, sharded) -> fp32, fp16 and int4, time + peak memory (child process)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 4 && args[0] == ChildFlag)
        {
            return MeasureOne(args[1], args[2], Enum.Parse<WeightPrecision>(args[3]));
        }

        string root = Path.Combine(Path.GetTempPath(), "llmkit-bench", "convert-hf");
        string input = Path.Combine(root, "synthetic-500M");
        Console.WriteLine($"# convert-hf benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        if (!File.Exists(Path.Combine(input, "tokenizer.json")))
        {
            var sw = Stopwatch.StartNew();
            HfCheckpointSynthesizer.Write(input, Shape, seed: 500, dtype: "BF16", sharded: true);
            string llama2cTokenizer = Path.Combine(root, "tok32000.bin");
            CheckpointSynthesizer.WriteTokenizer(llama2cTokenizer, Shape.VocabSize);
            HfCheckpointSynthesizer.WriteTokenizer(input, Llama2cTokenizerFile.Load(llama2cTokenizer, Shape.VocabSize), Shape.MaxPositions);
            Console.WriteLine(Invariant($"synthesised the checkpoint in {sw.Elapsed.TotalSeconds:0.0} s"));
        }

        long largestShard = Directory.GetFiles(input, "*.safetensors").Max(f => new FileInfo(f).Length);
        long checkpointBytes = Directory.GetFiles(input, "*.safetensors").Sum(f => new FileInfo(f).Length);
        var spec = HfConfigReader.Read(input);
        foreach (var precision in new[] { WeightPrecision.Fp32, WeightPrecision.Fp16, WeightPrecision.Int4 })
        {
            string output = Path.Combine(root, $"out-{precision}");
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { Name, ChildFlag, input, output, precision.ToString() })
            {
                start.ArgumentList.Add(a);
            }

            using var child = Process.Start(start)!;
            string line = (await child.StandardOutput.ReadToEndAsync(cancellationToken)).Trim();
            await child.WaitForExitAsync(cancellationToken);
            if (child.ExitCode != 0)
            {
                Console.Error.WriteLine($"{precision} conversion failed: {line}");
                continue;
            }

            string[] f = line.Split(' ');
            double seconds = double.Parse(f[0], CultureInfo.InvariantCulture);
            long peak = long.Parse(f[1], CultureInfo.InvariantCulture);
            long written = Directory.GetFiles(output).Sum(p => new FileInfo(p).Length);
            Console.WriteLine(Invariant(
                $"synthetic {spec.ParameterCount / 1e6:0}M HF Llama (bf16, 2 shards, {checkpointBytes / 1e6:0} MB, largest shard {largestShard / 1e6:0} MB) -> {precision}: convert {seconds:0.0} s, peak RSS {peak / 1e6:0} MB = {peak / (double)largestShard:0.00}x largest shard, folder {written / 1e6:0} MB"));
            Directory.Delete(output, recursive: true);
        }

        return 0;
    }

    private static int MeasureOne(string input, string output, WeightPrecision precision)
    {
        var sw = Stopwatch.StartNew();
        HfConverter.Convert(new HfConversionRequest(input, output) { Force = true, Precision = precision });
        double seconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine(Invariant($"{seconds:0.000} {PeakResidentBytes()}"));
        return 0;
    }

    // VmHWM: the kernel's high-water mark of this process's resident set (Linux); the managed figure elsewhere.
    private static long PeakResidentBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            foreach (string line in File.ReadLines(status))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
