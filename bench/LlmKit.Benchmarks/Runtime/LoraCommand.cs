using static LlmKit.Benchmarks.BenchArguments;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.ModelBuilder.Lora;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// <c>lora</c>: what LoRA inputs cost. Decode speed of the plain official-form folder, of the same model converted with
/// LoRA inputs running without an adapter (rank-0 defaults), and with a random rank-R adapter on all seven projections,
/// measured in alternating rounds in one process.
/// </summary>
internal sealed class LoraCommand : IBenchCommand
{
    public string Name => "lora";

    public string Summary => "LoRA inputs: decode tok/s plain vs --lora without and with an adapter [--models stories,110m] [--rank 16] [--threads 1] [--rounds 3] [--prompt-tokens 64] [--decode-tokens 64]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string[] models = Option(args, "--models", "stories,110m").Split(',');
        int rank = int.Parse(Option(args, "--rank", "16"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "3"), CultureInfo.InvariantCulture);
        int promptTokens = int.Parse(Option(args, "--prompt-tokens", "64"), CultureInfo.InvariantCulture);
        int decodeTokens = int.Parse(Option(args, "--decode-tokens", "64"), CultureInfo.InvariantCulture);

        Console.WriteLine($"# lora — rank {rank}, {threads} intra-op thread(s), {rounds} rounds, {promptTokens}-token prompt, {decodeTokens} greedy steps, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        Console.WriteLine("| model | plain tok/s | --lora, no adapter tok/s | --lora + adapter tok/s | no adapter / plain | adapter / plain |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (string name in models)
        {
            var (plainFolder, loraFolder, config) = name switch
            {
                "stories" => (BenchModels.Stories260K(OnnxGraphForm.OrtGenAI), BenchModels.Stories260K(loraInputs: true), Llama2cCheckpoint.Load(Path.Combine(BenchModels.SharedRoot(), "models", "stories260K", "stories260K.bin")).Config),
                "110m" => (BenchModels.Synthetic(BenchModels.Synthetic110M, 110, OnnxGraphForm.OrtGenAI), BenchModels.Synthetic(BenchModels.Synthetic110M, 110, OnnxGraphForm.OrtGenAI, loraInputs: true), BenchModels.Synthetic110M),
                _ => throw new ArgumentException($"--models: unknown model '{name}' (stories, 110m)."),
            };

            string adapterPath = Path.Combine(Path.GetTempPath(), $"llmkit-bench-lora-{name}-r{rank}.onnx_adapter");
            WriteRandomAdapter(adapterPath, config, rank);
            var options = new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false };
            using var plain = OnnxGenAIModel.Load(plainFolder, options);
            using var lora = OnnxGenAIModel.Load(loraFolder, options);
            lora.LoadAdapter("bench", adapterPath);

            var random = new Random(7);
            int[] prompt = [.. Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, plain.VocabularySize))];
            var greedy = new GenerationOptions { Temperature = 0, MaxNewTokens = decodeTokens, MinNewTokens = decodeTokens };
            var rates = new List<double>[] { [], [], [] };
            for (int round = 0; round <= rounds; round++)
            {
                double a = (await plain.GenerateAsync(prompt, greedy, cancellationToken)).DecodeTokensPerSecond;
                double b = (await lora.GenerateAsync(prompt, greedy, cancellationToken)).DecodeTokensPerSecond;
                double c = (await lora.GenerateAsync(prompt, greedy with { Adapter = "bench" }, cancellationToken)).DecodeTokensPerSecond;
                if (round > 0) // round 0 warms up
                {
                    rates[0].Add(a);
                    rates[1].Add(b);
                    rates[2].Add(c);
                }
            }

            double p = Median(rates[0]), n = Median(rates[1]), w = Median(rates[2]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {p:F1} | {n:F1} | {w:F1} | {n / p:F3} | {w / p:F3} |"));
            File.Delete(adapterPath);
        }

        return 0;
    }

    // Random A and B for every projection of every layer, named as the graph's LoRA inputs.
    private static void WriteRandomAdapter(string path, LlamaConfig config, int rank)
    {
        var random = new Random(rank);
        var parameters = new List<AdapterParameter>();
        for (int l = 0; l < config.Layers; l++)
        {
            foreach (var module in LoraModule.All)
            {
                var (outFeatures, inFeatures) = module.Shape(config);
                parameters.Add(new AdapterParameter(module.InputA(l), [inFeatures, rank], Random(random, inFeatures * rank, 1 / MathF.Sqrt(inFeatures))));
                parameters.Add(new AdapterParameter(module.InputB(l), [rank, outFeatures], Random(random, rank * outFeatures, 0.01f)));
            }
        }

        OnnxAdapterWriter.Write(path, parameters);
    }

    private static float[] Random(Random random, int count, float scale)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = ((float)random.NextDouble() - 0.5f) * 2 * scale;
        }

        return values;
    }
}
