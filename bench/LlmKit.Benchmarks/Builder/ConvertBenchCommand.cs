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

    public string Summary => "model builder: stories260K conversion time (median of --reps) and 110M conversion time + peak memory";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 4 && args[0] == ChildFlag)
        {
            return MeasureOne(args[1], args[2], args[3]);
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

        // A fresh process per measurement, so PeakWorkingSet64 covers one conversion and nothing else.
        string output = Path.Combine(root, "synthetic-110M");
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "convert", ChildFlag, checkpoint, tokenizer, output })
        {
            start.ArgumentList.Add(a);
        }

        using var child = Process.Start(start)!;
        string line = (await child.StandardOutput.ReadToEndAsync(cancellationToken)).Trim();
        await child.WaitForExitAsync(cancellationToken);
        if (child.ExitCode != 0)
        {
            Console.Error.WriteLine($"large conversion failed: {line}");
            return;
        }

        string[] f = line.Split(' ');
        double seconds = double.Parse(f[0], CultureInfo.InvariantCulture);
        long peak = long.Parse(f[1], CultureInfo.InvariantCulture);
        long checkpointBytes = new FileInfo(checkpoint).Length;
        long written = Directory.GetFiles(output).Sum(p => new FileInfo(p).Length);
        Console.WriteLine(Invariant($"synthetic 110M ({config.ParameterCount:N0} params, {checkpointBytes / 1e6:0.0} MB checkpoint): convert {seconds:0.00} s, peak working set {peak / 1e6:0.0} MB = {peak / (double)checkpointBytes:0.00}x checkpoint, folder {written / 1e6:0.0} MB"));
        Directory.Delete(output, recursive: true);
    }

    private static int MeasureOne(string checkpoint, string tokenizer, string output)
    {
        var sw = Stopwatch.StartNew();
        Llama2cConverter.Convert(new(checkpoint, tokenizer, output, Force: true));
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
