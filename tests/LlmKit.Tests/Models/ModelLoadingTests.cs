using System.Text.Json.Nodes;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Models;

public sealed class ModelLoadingTests : IDisposable
{
    private readonly TempModelFolder _folder = TempModelFolder.CopyOf(TestModels.Stories260KFolder);

    private string Copy => _folder.Path;

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_builder_folder_loads_with_its_config_and_tokenizer()
    {
        using var model = OnnxGenAIModel.Load(Copy);
        Assert.Equal(512, model.VocabularySize);
        Assert.Equal(5, model.Config.Model.Decoder.NumHiddenLayers);
        Assert.Equal("sentencepiece", model.Tokenizer.Kind);
        Assert.Equal([2], model.Tokenizer.EosTokenIds);
        Assert.True(model.Tokenizer.AddBos);
        Assert.Equal(1, model.Tokenizer.Encode("Hello")[0]);
    }

    [Fact]
    public void Missing_folder_is_named()
    {
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Path.Combine(Copy, "nope")));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_config_file_is_named()
    {
        File.Delete(Path.Combine(Copy, "genai_config.json"));
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("genai_config.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_onnx_file_is_named()
    {
        File.Delete(Path.Combine(Copy, "model.onnx"));
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("model.onnx", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_tokenizer_is_named()
    {
        // Builder folders carry both forms (tokenizer.json is the fallback), so both must go.
        File.Delete(Path.Combine(Copy, "tokenizer.model"));
        File.Delete(Path.Combine(Copy, "tokenizer.json"));
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("tokenizer.model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_reports_the_path_inside_the_json()
    {
        string path = Path.Combine(Copy, "genai_config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"head_size\": 8", "\"head_size\": \"eight\"", StringComparison.Ordinal));
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("$.model.decoder.head_size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eos_token_id_may_be_an_array()
    {
        EditConfig(c => c["model"]!["eos_token_id"] = new JsonArray(2, 1));
        using var model = OnnxGenAIModel.Load(Copy);
        Assert.Equal([2, 1], model.Tokenizer.EosTokenIds);
    }

    [Fact]
    public void Graph_input_that_disagrees_with_the_config_is_named()
    {
        EditConfig(c => c["model"]!["decoder"]!["inputs"]!["past_key_names"] = "past.%d.k");
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("past.0.k", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kv_head_count_that_disagrees_with_the_graph_is_named()
    {
        EditConfig(c => c["model"]!["decoder"]!["num_key_value_heads"] = 2);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("num_key_value_heads", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unavailable_execution_provider_fails_with_advice()
    {
        var ex = Assert.Throws<NotSupportedException>(() => OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { ExecutionProviders = ["cuda"] }));
        Assert.Contains("cuda", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_thread_count_names_the_option()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { IntraOpThreads = 0 }));
        Assert.Equal("IntraOpThreads", ex.ParamName);
    }

    private void EditConfig(Action<JsonNode> edit) => _folder.EditConfig(edit);
}
