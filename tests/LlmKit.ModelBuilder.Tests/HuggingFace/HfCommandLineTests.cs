using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.ModelBuilder.Cli;
using LlmKit.Models;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary><c>llmkit convert hf</c> writes a complete official folder and reports errors as one line.</summary>
public sealed class HfCommandLineTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Convert_hf_writes_a_loadable_folder_with_the_tokenizer_copied_and_progress_lines()
    {
        string input = HfCases.Checkpoint("qwen2");
        string output = _dir.File("qwen2");

        var (code, stdout, stderr) = Run("convert", "hf", "--input", input, "--output", output);

        Assert.True(code == 0, stderr);
        Assert.Contains("Converted Qwen2ForCausalLM", stdout, StringComparison.Ordinal);
        Assert.Contains("convert  3/4", stdout, StringComparison.Ordinal); // plain progress lines when not on a terminal
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(input, file)), File.ReadAllBytes(Path.Combine(output, file)));
        }

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "genai_config.json")))!;
        Assert.Equal("qwen2", (string?)config["model"]!["type"]);
        Assert.Equal(256, (int)config["model"]!["context_length"]!);
        Assert.Equal(2, (int)config["model"]!["eos_token_id"]!);
        Assert.Equal(16, (int)config["model"]!["decoder"]!["head_size"]!);
        using var model = OnnxGenAIModel.Load(output);
        Assert.Equal("qwen2", model.ModelType);
    }

    [Fact]
    public void Mistral_gets_its_sliding_window_in_genai_config_and_gemma2_does_not()
    {
        Assert.Equal(0, Run("convert", "hf", "--input", HfCases.Checkpoint("mistral"), "--output", _dir.File("m")).Code);
        Assert.Equal(0, Run("convert", "hf", "--input", HfCases.Checkpoint("gemma2"), "--output", _dir.File("g")).Code);

        var mistral = JsonNode.Parse(File.ReadAllText(_dir.File("m/genai_config.json")))!;
        Assert.Equal(16, (int)mistral["model"]!["decoder"]!["sliding_window"]!["window_size"]!);
        Assert.False((bool)mistral["search"]!["past_present_share_buffer"]!);

        // Gemma2's global layers need the whole context, so the window lives only in the graph's even layers.
        var gemma2 = JsonNode.Parse(File.ReadAllText(_dir.File("g/genai_config.json")))!;
        Assert.Null(gemma2["model"]!["decoder"]!["sliding_window"]);
        var graph = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(_dir.File("g/model.onnx"))).Graph;
        long?[] windows = [.. graph.Node.Where(n => n.OpType == "GroupQueryAttention").Select(n => n.Attribute.SingleOrDefault(a => a.Name == "local_window_size")?.I)];
        Assert.Equal([8L, null, 8L, null], windows);
    }

    [Fact]
    public void Rope_scaling_is_refused_with_one_line_naming_it()
    {
        string input = _dir.File("scaled");
        CopyFolder(HfCases.Checkpoint("llama"), input);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(input, "config.json")))!.AsObject();
        config["rope_scaling"] = JsonNode.Parse("{\"rope_type\":\"llama3\",\"factor\":8.0}");
        File.WriteAllText(Path.Combine(input, "config.json"), config.ToJsonString());

        var (code, _, stderr) = Run("convert", "hf", "--input", input, "--output", _dir.File("out"));

        Assert.Equal(1, code);
        Assert.StartsWith("llmkit: error:", stderr, StringComparison.Ordinal);
        Assert.Contains("rope_scaling", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("out")));
    }

    [Fact]
    public void Eos_ids_from_generation_config_join_the_config_ones_and_fp16_writes_a_float16_graph()
    {
        // Llama 3 instruct style: config.json names one EOS, generation_config.json lists more.
        string input = _dir.File("eos");
        CopyFolder(HfCases.Checkpoint("llama"), input);
        File.WriteAllText(Path.Combine(input, "generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 7, 9]}");

        var (code, _, stderr) = Run("convert", "hf", "--input", input, "--output", _dir.File("out"), "--precision", "fp16");

        Assert.True(code == 0, stderr);
        var config = JsonNode.Parse(File.ReadAllText(_dir.File("out/genai_config.json")))!;
        Assert.Equal([2, 7, 9], config["model"]!["eos_token_id"]!.AsArray().Select(n => (int)n!));
        var graph = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(_dir.File("out/model.onnx"))).Graph;
        Assert.Equal(GraphBuilderFloat16, graph.Output.Single(o => o.Name == "logits").Type.TensorType.ElemType);
        Assert.All(graph.Initializer.Where(t => t.Name.EndsWith(".MatMul.weight", StringComparison.Ordinal)), t => Assert.Equal(GraphBuilderFloat16, t.DataType));
    }

    [Theory]
    [InlineData("intermediate_size", "100000", "model.layers.0.mlp")]        // a shape the tensors do not have
    [InlineData("max_position_embeddings", "2000000000", "max_position_embeddings")] // RoPE tables too large to build
    public void A_config_that_disagrees_with_the_checkpoint_is_refused_before_allocating(string field, string value, string named)
    {
        string input = _dir.File("lying");
        CopyFolder(HfCases.Checkpoint("llama"), input);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(input, "config.json")))!.AsObject();
        config[field] = JsonNode.Parse(value);
        File.WriteAllText(Path.Combine(input, "config.json"), config.ToJsonString());

        var (code, _, stderr) = Run("convert", "hf", "--input", input, "--output", _dir.File("out"));

        Assert.Equal(1, code);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("out")));
    }

    [Fact]
    public void A_missing_tokenizer_json_is_named()
    {
        string input = _dir.File("no-tokenizer");
        CopyFolder(HfCases.Checkpoint("llama"), input);
        File.Delete(Path.Combine(input, "tokenizer.json"));

        var (code, _, stderr) = Run("convert", "hf", "--input", input, "--output", _dir.File("out"));

        Assert.Equal(1, code);
        Assert.Contains("tokenizer.json", stderr, StringComparison.Ordinal);
    }

    private const int GraphBuilderFloat16 = (int)Onnx.Protos.TensorProto.Types.DataType.Float16;

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    [Fact]
    public void Convert_hf_with_lora_then_adapter_writes_an_adapter_in_the_checkpoint_row_order()
    {
        var (code, _, stderr) = Run("convert", "hf", "--input", HfCases.Checkpoint("llama"), "--output", _dir.File("llama-lora"), "--lora");
        Assert.True(code == 0, stderr);

        var shape = HfCases.All["llama"].Shape;
        var config = new LlamaConfig(shape.Hidden, shape.Intermediate, shape.Layers, shape.Heads, shape.KvHeads, shape.VocabSize, shape.MaxPositions);
        LlmKit.Testing.SyntheticPeftAdapter.Write(_dir.File("peft"), config, rank: 8, alpha: 16, ["q_proj", "v_proj", "gate_proj"], seed: 2);
        (code, string stdout, stderr) = Run("adapter", "--base", _dir.File("llama-lora"), "--peft", _dir.File("peft"), "--output", _dir.File("llama.onnx_adapter"));

        Assert.True(code == 0, stderr);
        Assert.Contains("rank 8, scale 2 folded into B, 6 projections, 12 tensors, huggingface row order", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_hf_with_lora_refuses_phi3s_fused_projections_in_one_line()
    {
        var (code, _, stderr) = Run("convert", "hf", "--input", HfCases.Checkpoint("phi3"), "--output", _dir.File("phi3-lora"), "--lora");

        Assert.Equal(1, code);
        Assert.Contains("LoraInputs (--lora) is not supported for Phi3ForCausalLM", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("phi3-lora")));
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = CommandLineApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
