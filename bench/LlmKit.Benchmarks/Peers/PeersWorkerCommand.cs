using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.Models;
using Oga = Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.Benchmarks.Peers;

/// <summary>
/// One engine, one folder, one measured run after a warm-up; prints "prefill-ms decode-tok/s". Both engines are
/// measured the same way: prefill = the prompt's run plus the first token's choice; decode = the next N steps, each one
/// run plus one choice. min_length holds end of sequence back so every run decodes exactly N steps.
/// </summary>
internal sealed class PeersWorkerCommand : IBenchCommand
{
    public string Name => "peers-worker";

    public string Summary => "(child process of peers) --engine llmkit|ortgenai --folder DIR --threads N --prompt-tokens P --decode-tokens D";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string engine = Option(args, "--engine", "llmkit");
        string folder = Option(args, "--folder", "");
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int promptTokens = int.Parse(Option(args, "--prompt-tokens", "64"), CultureInfo.InvariantCulture);
        int decodeTokens = int.Parse(Option(args, "--decode-tokens", "128"), CultureInfo.InvariantCulture);

        var config = GenAIConfigReader.Read(Path.Combine(folder, GenAIConfigReader.FileName));
        var random = new Random(1234);
        int[] prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, config.Model.VocabSize)).ToArray();
        (double prefill, double decode) = engine == "ortgenai"
            ? MeasureOfficial(folder, threads, prompt, decodeTokens)
            : MeasureLlmKit(folder, threads, prompt, decodeTokens);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefill * 1000:F3} {decodeTokens / decode:F3}"));
        return Task.FromResult(0);
    }

    private static (double Prefill, double Decode) MeasureLlmKit(string folder, int threads, int[] prompt, int steps)
    {
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false });
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = steps + 1, MinNewTokens = steps + 1 };
        Run();
        return Run();

        (double, double) Run()
        {
            using var generator = model.CreateGenerator(prompt, options);
            long start = Stopwatch.GetTimestamp();
            generator.GenerateNextToken();
            double prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++)
            {
                generator.GenerateNextToken();
            }

            return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private static (double Prefill, double Decode) MeasureOfficial(string folder, int threads, int[] prompt, int steps)
    {
        using var config = new Oga.Config(folder);
        string overlay = "{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + threads.ToString(CultureInfo.InvariantCulture) + "}}}}";
        config.Overlay(overlay);
        using var model = new Oga.Model(config);
        Run();
        return Run();

        (double, double) Run()
        {
            using var parameters = new Oga.GeneratorParams(model);
            int length = prompt.Length + steps + 1;
            parameters.SetSearchOption("max_length", length);
            parameters.SetSearchOption("min_length", length);
            parameters.SetSearchOption("do_sample", false);
            using var generator = new Oga.Generator(model, parameters);
            long start = Stopwatch.GetTimestamp();
            generator.AppendTokens(prompt);   // the prompt's run
            generator.GenerateNextToken();    // picks the first token from the prompt's logits
            double prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++)
            {
                generator.GenerateNextToken(); // one run on the last token, then one choice
            }

            return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }
}
