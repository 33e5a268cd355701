using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// Runtime speed: prefill and decode tokens/s, time to first token, managed bytes per decoded token, decode-step
/// time against a bare InferenceSession.Run (same inputs, measured alternately in the same run), and decode
/// bandwidth (weight bytes x tokens/s) against this machine's memory copy bandwidth measured in the same run.
/// </summary>
internal sealed class GenerateCommand : IBenchCommand
{
    public string Name => "generate";

    public string Summary => "runtime speed: prefill/decode tok/s, TTFT, bytes/token, loop overhead vs bare Run, bandwidth [--models stories,110m] [--threads 1,2] [--forms standard] [--prompt-tokens 64] [--decode-tokens 128] [--rounds 3]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "stories,110m").Split(',');
        var threads = Option(args, "--threads", "1,2").Split(',').Select(int.Parse).ToArray();
        var forms = Option(args, "--forms", "standard").Split(',').Select(f => f == "ortgenai" ? OnnxGraphForm.OrtGenAI : OnnxGraphForm.Standard).ToArray();
        int promptTokens = int.Parse(Option(args, "--prompt-tokens", "64"), CultureInfo.InvariantCulture);
        int decodeTokens = int.Parse(Option(args, "--decode-tokens", "128"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "3"), CultureInfo.InvariantCulture);

        Console.WriteLine("| model | form | threads | streamed weights MB | prefill tok/s | TTFT ms | decode tok/s | step / bare Run | B alloc / token | weight GB/s | copy bw GB/s | % of copy bw |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var name in models)
        {
            foreach (var form in forms)
            {
                string folder = name == "110m"
                    ? BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, form)
                    : BenchModels.Stories260K(form);
                // Bytes streamed per decode step: every weight except the embedding table, of which a Gather reads one row.
                var config = GenAIConfigReader.Read(Path.Combine(folder, GenAIConfigReader.FileName));
                long embedding = (long)config.Model.VocabSize * config.Model.Decoder.HiddenSize * sizeof(float);
                long weightBytes = Directory.GetFiles(folder, "model.onnx*").Sum(f => new FileInfo(f).Length) - embedding;
                foreach (int t in threads)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var row = Measure(folder, t, promptTokens, decodeTokens, rounds);

                    // Copy bandwidth (read + write, as FACTS.md measures it) right beside the row, same thread count.
                    double copy = MemoryBandwidth.CopyBytesPerSecond(t);
                    double weightRate = weightBytes * row.DecodeTokensPerSecond;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {name} | {form} | {t} | {weightBytes / 1e6:F1} | {row.PrefillTokensPerSecond:F0} | {row.TimeToFirstTokenMs:F1} | {row.DecodeTokensPerSecond:F1} | {row.StepOverBare:F3} | {row.BytesPerToken:F0} | {weightRate / 1e9:F2} | {copy / 1e9:F1} | {100 * weightRate / copy:F0}% |"));
                }
            }
        }

        return Task.FromResult(0);
    }

    private static Row Measure(string folder, int threads, int promptTokens, int decodeTokens, int rounds)
    {
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads });
        using var bare = new BareDecoder(folder, threads, model.MaxLength);
        var random = new Random(1234);
        int[] prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, model.VocabularySize)).ToArray();
        prompt[0] = Math.Max(model.Tokenizer.BosTokenId, 0);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = decodeTokens + 1 };

        // Warm-up: JIT, ORT arenas, the model's state pool.
        RunOurs(model, prompt, options, out _, out _, out _, out _);
        bare.TimeSteps(promptTokens, 4);

        var ours = new List<double>();
        var bares = new List<double>();
        var ttfts = new List<double>();
        var bytes = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            RunOurs(model, prompt, options, out double ttft, out double decodeSeconds, out int steps, out long allocated);
            double bareSeconds = bare.TimeSteps(promptTokens, steps);
            ours.Add(decodeSeconds / steps);
            bares.Add(bareSeconds / steps);
            ttfts.Add(ttft);
            bytes.Add((double)allocated / steps);
        }

        double step = Median(ours);
        return new Row(
            PrefillTokensPerSecond: promptTokens / Median(ttfts),
            TimeToFirstTokenMs: Median(ttfts) * 1000,
            DecodeTokensPerSecond: 1 / step,
            StepOverBare: step / Median(bares),
            BytesPerToken: Median(bytes));
    }

    private static void RunOurs(OnnxGenAIModel model, int[] prompt, GenerationOptions options, out double ttft, out double decodeSeconds, out int steps, out long allocated)
    {
        using var generator = model.CreateGenerator(prompt, options);
        long start = Stopwatch.GetTimestamp();
        generator.GenerateNextToken();
        ttft = Stopwatch.GetElapsedTime(start).TotalSeconds;
        steps = 0;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        start = Stopwatch.GetTimestamp();
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
            steps++;
        }

        decodeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        if (steps == 0)
        {
            throw new InvalidOperationException("The model ended the sequence at once; use a longer --decode-tokens or another prompt.");
        }
    }



    private sealed record Row(double PrefillTokensPerSecond, double TimeToFirstTokenMs, double DecodeTokensPerSecond, double StepOverBare, double BytesPerToken);
}
