using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.OnnxRuntimeGenAI;
using LlmKit.Testing;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>LoRA adapters through LlmKit's onnxruntime-genai engine give the same greedy ids as LlmKit's own engine.</summary>
public sealed class AdapterEngineTests : IDisposable
{
    private static readonly LlamaConfig Config = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "llmkit-tests", "scratch", Guid.NewGuid().ToString("N"));

    public AdapterEngineTests() => Directory.CreateDirectory(_scratch);

    [Fact]
    public async Task Both_engines_give_each_adapter_the_same_greedy_ids()
    {
        string folder = TestModels.SyntheticWithLoraInputs(Config, seed: 99);
        SyntheticPeftAdapter.Write(Path.Combine(_scratch, "peft"), Config, rank: 4, alpha: 8, ["q_proj", "v_proj", "down_proj"], seed: 21);
        string adapter = Path.Combine(_scratch, "a.onnx_adapter");
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(folder, Path.Combine(_scratch, "peft"), adapter));

        using var engine = OnnxRuntimeGenAIEngine.Load(folder, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1 });
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        engine.LoadAdapter("a", adapter);
        model.LoadAdapter("a", adapter);
        Assert.Equal(["a"], engine.AdapterNames);

        var random = new Random(3);
        int[] prompt = [1, .. Enumerable.Range(0, 20).Select(_ => random.Next(3, Config.VocabSize))];
        var results = new Dictionary<string, IReadOnlyList<int>>();
        foreach (string? name in (string?[])["a", null])
        {
            var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 40, MinNewTokens = 40, Adapter = name };
            var official = await engine.GenerateAsync(prompt, options);
            var own = await model.GenerateAsync(prompt, options);
            Assert.Equal(own.TokenIds, official.TokenIds);
            results[name ?? "base"] = official.TokenIds;
        }

        Assert.NotEqual(results["a"], results["base"]); // the adapter really ran
        var unknown = Assert.Throws<ArgumentException>(() => engine.ResolveOptions(new GenerationOptions { Adapter = "b" }));
        Assert.Contains("'b'", unknown.Message);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_scratch, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
