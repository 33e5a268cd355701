using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>The two folders from onnxruntime-genai's own test suite in ../shared (read its README).</summary>
internal static class OfficialFolders
{
    public static string Gpt2 => Folder("tiny-random-gpt2-fp32");

    public static string LlamaFp16 => Folder("tiny-random-LlamaForCausalLM-fp16");

    private static string Folder(string name)
    {
        // SharedFixtures.File fails with the path when the fixture is missing: never a silent skip.
        string config = SharedFixtures.File($"models/onnxruntime-genai-tests/{name}/genai_config.json");
        return Path.GetDirectoryName(config)!;
    }
}
