using System.Diagnostics;
using System.Globalization;
using LlmKit.ModelBuilder;

namespace LlmKit.Benchmarks.Builder;

/// <summary>
/// <c>convert</c>: how long the model builder takes to convert stories260K (many repetitions, median) and a
/// synthetic 110M-parameter llama2.c checkpoint, and the peak memory of the large conversion measured in a child
/// process (so it counts the conversion alone) against the checkpoint size.
/// </summary>
internal sealed class ConvertBenchCommand : IBenchCommand
{
    private const string ChildFlag = "--measure-one";

    public string Name => "convert";

    public string Summary => "model builder: stories260K conversion time (median of --reps); 110M fp32 and int4 conversion time + peak memory";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 6 && args[0] == ChildFlag)
        {
            return MeasureOne(args[1], args[2], args[3], Enum.Parse<OnnxGraphForm>(args[4]), Enum.Parse<WeightPrecision>(args[5]));
        }

        int reps = IntOption(args, "--reps", 50);
        bool skipLarge = args.Contains("--skip-large");
        string root = Path.Combine(Path.GetTempPath(), "llmkit-bench", "convert");
        Directory.CreateDirectory(root);

        Console.WriteLine($"# convert benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        SmallModel(root, reps, cancellationToken);
        if (!skipLarge)
        {
            await LargeModelAsync(root, cancellationToken);
        }

        return 0;
    }

    private static void SmallModel(string root, int reps, CancellationToken cancellationToken)
    {
        string shared = Path.GetFullPath(Environment.GetEnvironmentVariable("LLMKIT_SHARED") ?? Path.Combine(FindRepoRoot(), "..", "shared"));
        string checkpoint = Path.Combine(shared, "models", "stories260K", "stories260K.bin");
        string tokenizer = Path.Combine(shared, "models", "stories260K", "tok512.bin");
        string output = Path.Combine(root, "stories260K");

        Llama2cConverter.Convert(new(checkpoint, tokenizer, output, Force: true), cancellationToken); // warm-up (JIT)
        var times = new List<double>(reps);
        for (int i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            Llama2cConverter.Convert(new(checkpoint, tokenizer, output, Force: true), cancellationToken);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine(Invariant($"stories260K ({new FileInfo(checkpoint).Length:N0} B checkpoint): {reps} reps, median {times[reps / 2]:0.0} ms, min {times[0]:0.0} ms, max {times[^1]:0.0} ms"));
    }

    private static async Task LargeModelAsync(string root, CancellationToken cancellationToken)
    {
        var config = new LlamaConfig(Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KvHeads: 12, VocabSize: 32000, SeqLen: 1024);
        string checkpoint = Path.Combine(root, "synthetic-110M.bin");
        string tokenizer = Path.Combine(root, "synthetic-110M-tok.bin");
        if (!File.Exists(checkpoint) || new FileInfo(checkpoint).Length != Llama2cCheckpoint.ExpectedFileBytes(config))
        {
            var sw = Stopwatch.StartNew();
            CheckpointSynthesizer.Write(checkpoint, config, seed: 110);
            CheckpointSynthesizer.WriteTokenizer(tokenizer, config.VocabSize);
            Console.WriteLine(Invariant($"synthesised 110M checkpoint in {sw.Elapsed.TotalSeconds:0.0} s"));
        }

        long checkpointBytes = new FileInfo(checkpoint).Length;
        foreach (var (form, precision) in new[] { (OnnxGraphForm.Standard, WeightPrecision.Fp32), (OnnxGraphForm.OrtGenAI, WeightPrecision.Int4) })
        {
            string output = Path.Combine(root, $"synthetic-110M-{form}-{precision}");
            var measured = await MeasureInChildAsync(checkpoint, tokenizer, output, form, precision, cancellationToken);
            if (measured is not { } m)
            {
                continue;
            }

            long written = Directory.GetFiles(output).Sum(p => new FileInfo(p).Length);
            double loadSeconds = LoadAndRunOneToken(output);
            Console.WriteLine(Invariant($"synthetic 110M ({config.ParameterCount:N0} params, {checkpointBytes / 1e6:0.0} MB checkpoint) -> {form}/{precision}: convert {m.Seconds:0.00} s, peak working set {m.PeakBytes / 1e6:0.0} MB = {m.PeakBytes / (double)checkpointBytes:0.00}x checkpoint, folder {written / 1e6:0.0} MB; ORT session load + 1 token {loadSeconds:0.00} s"));
            Directory.Delete(output, recursive: true);
        }
    }

    // A fresh process per measurement, so PeakWorkingSet64 covers one conversion and nothing else.
    private static async Task<(double Seconds, long PeakBytes)?> MeasureInChildAsync(string checkpoint, string tokenizer, string output, OnnxGraphForm form, WeightPrecision precision, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "convert", ChildFlag, checkpoint, tokenizer, output, form.ToString(), precision.ToString() })
        {
            start.ArgumentList.Add(a);
        }

        using var child = Process.Start(start)!;
        string line = (await child.StandardOutput.ReadToEndAsync(cancellationToken)).Trim();
        await child.WaitForExitAsync(cancellationToken);
        if (child.ExitCode != 0)
        {
            Console.Error.WriteLine($"{form}/{precision} conversion failed: {line}");
            return null;
        }

        string[] f = line.Split(' ');
        return (double.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture));
    }

    // Proves the folder is a loadable model: one session, one token through every input the graph declares.
    private static double LoadAndRunOneToken(string folder)
    {
        var sw = Stopwatch.StartNew();
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(folder, "model.onnx"));
        var inputs = new Dictionary<string, Microsoft.ML.OnnxRuntime.OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                long[] shape = [.. meta.Dimensions.Select(d => d < 0 ? 1L : d)];
                if (name.StartsWith("past_key_values", StringComparison.Ordinal))
                {
                    shape[2] = 0;
                    inputs[name] = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), shape);
                }
                else
                {
                    inputs[name] = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new long[] { name == "position_ids" ? 0L : 1L }, [1, 1]);
                }
            }

            using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
            using var outputs = session.Run(runOptions, inputs.Keys.ToList(), inputs.Values.ToList(), session.OutputNames);
            return sw.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var v in inputs.Values)
            {
                v.Dispose();
            }
        }
    }

    private static int MeasureOne(string checkpoint, string tokenizer, string output, OnnxGraphForm form, WeightPrecision precision)
    {
        var sw = Stopwatch.StartNew();
        Llama2cConverter.Convert(new(checkpoint, tokenizer, output, Force: true, GraphForm: form) { Precision = precision });
        double seconds = sw.Elapsed.TotalSeconds;
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine(Invariant($"{seconds:0.000} {self.PeakWorkingSet64}"));
        return 0;
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int v) && v > 0 ? v : fallback;
    }

    private static string FindRepoRoot()
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

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
