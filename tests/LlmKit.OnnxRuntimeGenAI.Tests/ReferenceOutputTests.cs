using LlmKit.Generation;
using Microsoft.ML.OnnxRuntimeGenAI;
using Generator = Microsoft.ML.OnnxRuntimeGenAI.Generator;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// Greedy ids in, ids out, on the official test folders: the engine must give the rows of the fixture README
/// (onnxruntime-genai 0.20.0 on CPU) and the same ids as a plain onnxruntime-genai loop on the same prompt.
/// </summary>
[Collection(OgaModelsCollection.Name)]
public sealed class ReferenceOutputTests(OgaModels models)
{
    // The rows of ../shared/models/onnxruntime-genai-tests/README.md: folder, input ids, max_length, output ids (prompt included).
    public static TheoryData<string, int[], int, int[]> ReadmeRows => new()
    {
        { "gpt2", [0, 0, 0, 52], 10, [0, 0, 0, 52, 204, 204, 204, 204, 204, 204] },
        { "gpt2", [0, 0, 195, 731], 10, [0, 0, 195, 731, 731, 114, 114, 114, 114, 114] },
        { "gpt2", [1, 2, 3, 5, 8], 12, [1, 2, 3, 5, 8, 8, 8, 8, 8, 8, 8, 8] },
        { "llama-fp16", [1, 15043, 3186], 20, [1, 15043, 3186, 30016, 7356, 9023, 25068, 22665, 2507, 5236, 14142, 2550, 12800, 2033, 4239, 9745, 10641, 15242, 10110, 13653] },
        { "llama-fp16", [1, 450, 4996, 17354], 20, [1, 450, 4996, 17354, 11788, 5619, 25211, 23124, 30954, 4355, 14017, 25190, 6074, 6566, 21376, 2522, 3362, 1404, 2376, 12454] },
    };

    [Theory]
    [MemberData(nameof(ReadmeRows))]
    public async Task Greedy_ids_equal_the_readme_reference_row(string folder, int[] input, int maxLength, int[] expected)
    {
        var engine = models.For(folder);
        var result = await engine.GenerateAsync(input, new GenerationOptions { Temperature = 0, MaxNewTokens = maxLength - input.Length });

        int[] output = [.. input, .. result.TokenIds];
        Assert.Equal(expected, output);
        Assert.Equal(GenerationFinishReason.MaxNewTokens, result.FinishReason);
        Assert.Equal(input.Length, result.PromptTokenCount);
    }

    [Theory]
    [MemberData(nameof(ReadmeRows))]
    public async Task Streaming_gives_the_same_ids_one_update_per_token(string folder, int[] input, int maxLength, int[] expected)
    {
        var engine = models.For(folder);
        var ids = new List<int>(input);
        GenerationUpdate? last = null;
        await foreach (var update in engine.GenerateStreamingAsync(input, new GenerationOptions { Temperature = 0, MaxNewTokens = maxLength - input.Length }))
        {
            ids.Add(update.TokenId);
            Assert.Equal(ids.Count - input.Length, update.GeneratedTokenCount);
            Assert.Null(last?.FinishReason);
            last = update;
        }

        Assert.Equal(expected, ids);
        Assert.Equal(GenerationFinishReason.MaxNewTokens, last!.FinishReason);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama-fp16")]
    [InlineData("stories260K")]
    public async Task Long_greedy_runs_equal_a_plain_onnxruntime_genai_loop(string folder)
    {
        // 5 prompts x 100 new tokens (or to the context end), against the official runtime driven directly.
        var engine = models.For(folder);
        var random = new Random(13);
        for (int p = 0; p < 5; p++)
        {
            int[] prompt = [.. Enumerable.Range(0, 3 + p).Select(_ => random.Next(3, engine.VocabularySize))];
            int newTokens = Math.Min(100, engine.MaxLength - prompt.Length);
            var result = await engine.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = newTokens });

            int[] official = OfficialGreedy(engine, prompt, prompt.Length + newTokens);
            int[] ours = [.. prompt, .. result.TokenIds];
            if (result.FinishReason == GenerationFinishReason.EndOfSequence)
            {
                ours = ours[..^1]; // onnxruntime-genai leaves the end-of-sequence token out of its sequence
            }

            Assert.Equal(official, ours);
        }
    }

    internal static int[] OfficialGreedy(OnnxRuntimeGenAIEngine engine, int[] prompt, int maxLength)
    {
        using var parameters = new GeneratorParams(engine.NativeModel);
        parameters.SetSearchOption("max_length", maxLength);
        parameters.SetSearchOption("do_sample", false);
        using var generator = new Generator(engine.NativeModel, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return generator.GetSequence(0).ToArray();
    }
}
