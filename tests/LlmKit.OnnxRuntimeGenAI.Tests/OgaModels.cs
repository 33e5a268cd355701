using LlmKit.Testing;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// The engines under test, loaded once per test run: the two official onnxruntime-genai test folders from ../shared and
/// stories260K as LlmKit's builder converts it (the one folder LlmKit's own engine also loads today).
/// </summary>
public sealed class OgaModels : IDisposable
{
    /// <summary>Folder of the official gpt2 test model (int32 inputs, combined past_%d KV).</summary>
    public static string Gpt2Folder => Path.GetDirectoryName(SharedFixtures.File("models/onnxruntime-genai-tests/tiny-random-gpt2-fp32/genai_config.json"))!;

    /// <summary>Folder of the official fp16 Llama test model.</summary>
    public static string LlamaFp16Folder => Path.GetDirectoryName(SharedFixtures.File("models/onnxruntime-genai-tests/tiny-random-LlamaForCausalLM-fp16/genai_config.json"))!;

    private readonly Lazy<OnnxRuntimeGenAIEngine> _gpt2 = new(() => Load(Gpt2Folder));
    private readonly Lazy<OnnxRuntimeGenAIEngine> _llama = new(() => Load(LlamaFp16Folder));
    private readonly Lazy<OnnxRuntimeGenAIEngine> _stories = new(() => Load(TestModels.Stories260KFolder));

    /// <summary>onnxruntime-genai on the gpt2 folder.</summary>
    public OnnxRuntimeGenAIEngine Gpt2 => _gpt2.Value;

    /// <summary>onnxruntime-genai on the fp16 Llama folder.</summary>
    public OnnxRuntimeGenAIEngine LlamaFp16 => _llama.Value;

    /// <summary>onnxruntime-genai on stories260K (LlmKit builder, Standard form).</summary>
    public OnnxRuntimeGenAIEngine Stories260K => _stories.Value;

    /// <summary>The engine of a folder name used in theory data.</summary>
    public OnnxRuntimeGenAIEngine For(string name) => name switch
    {
        "gpt2" => Gpt2,
        "llama-fp16" => LlamaFp16,
        "stories260K" => Stories260K,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown test model"),
    };

    public void Dispose()
    {
        foreach (var engine in new[] { _gpt2, _llama, _stories })
        {
            if (engine.IsValueCreated)
            {
                engine.Value.Dispose();
            }
        }
    }

    private static OnnxRuntimeGenAIEngine Load(string folder) => OnnxRuntimeGenAIEngine.Load(folder, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1 });
}

[CollectionDefinition(Name)]
public sealed class OgaModelsCollection : ICollectionFixture<OgaModels>
{
    public const string Name = "onnxruntime-genai models";
}
